"""The command line: a thin adapter from argv to the library, and its error edge.

``splitter.main(job, pool)`` serves the user's entry script (and so the frozen
binary) with every command; the ``splitter`` console script serves those that
need no job pool, and the pool commands on a task file (``--tasks FILE``: each
line a shell command, see ``splitter.run.shelltask``). Each command is a pair
``_add_<cmd>`` / ``_cmd_<cmd>``. A
``SplitterError`` becomes one sentence on stderr and its exit code; anything
else is our bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from splitter.campaign.array import array_machines
from splitter.campaign.digest import full_hex, group_digest
from splitter.campaign.load import (
    EMBEDDED_ORIGIN,
    Campaign,
    ConfigsLocation,
    load_campaign,
    locate_configs,
)
from splitter.campaign.machines import (
    MACHINES_FILE,
    Machine,
    check_machine_name,
    machine_for_hostname,
)
from splitter.campaign.moves import Moves, PlanShape, plan_moves
from splitter.campaign.needs import Needs, NeedsSpec
from splitter.campaign.phases import Phases
from splitter.campaign.plan import CALIBRATION_SAMPLE, owners
from splitter.campaign.templates import default_machine_name, write_templates
from splitter.campaign.view import perf_scale_warning, plan_json, plan_table
from splitter.errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    SplitterError,
    UsageError,
    describe_os_error,
)
from splitter.frozen import frozen_start
from splitter.run.mainguard import check_not_under_main_guard, leave_if_a_worker_imports_main
from splitter.run.prompt import say
from splitter.version import __version__

__all__ = ["console_main", "main"]

POOL_COMMANDS = ("run", "plan", "digest", "calibrate")
TOOL_COMMANDS = (
    "init", "merge", "status", "report", "slurm-script", "pause", "continue", "workers",
)  # fmt: skip


@dataclass(frozen=True)
class Program:
    """What the entry script handed to ``splitter.main``."""

    job: Callable[..., Any] | None = None
    pool: Any = None
    key: Callable[[Any], Any] | None = None
    reduce: Callable[[Any, dict[str, Any]], Any] | None = None
    initial: Any = None
    needs: NeedsSpec = None
    phases: Phases | None = None
    """A task file's barriers (the phases of its tasks)."""


def main(
    job: Callable[..., Any],
    pool: Any,
    *,
    key: Callable[[Any], Any] | None = None,
    reduce: Callable[[Any, dict[str, Any]], Any] | None = None,
    initial: Any = None,
    needs: NeedsSpec = None,
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """The whole command line for an entry script: ``splitter.main(job, pool)``.

    ``needs`` says what a job holds while it runs: one dict for every job, like
    ``{"cores": 4, "gpus": 1, "mem": "8G", "tags": ["openfoam"]}``, or a function
    of the item returning one (see `splitter.campaign.needs`); the default is one
    core.

    ``reduce(accumulator, row)``, if given, is folded by ``merge`` over the
    merged ok rows in job_id order, starting from ``initial``; the result is
    printed (its repr) and saved to ``M/reduce.json``. A row is a dict
    ``{"job_id": int, <job column>: value, ...}`` whose values come back typed
    by ``splitter.store.results.parse_cell`` from their CSV text: an empty cell is
    None, '42' an int, '1.5', '1e-07', 'nan' or '-inf' a float (floats exact,
    as written by repr), 'True'/'False' a bool, anything else a str. So a str
    that looks like a number comes back as one, and a list or dict comes back
    as its JSON text: ``json.loads`` it.
    """
    # First thing: in a frozen binary, a worker process starts here and must
    # never reach argument parsing; nor a worker importing a script with no main guard.
    multiprocessing.freeze_support()
    leave_if_a_worker_imports_main()
    frozen_start()
    sys.exit(run_cli(argv, Program(job, pool, key, reduce, initial, needs)))


def console_main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``splitter`` console script: the commands that need no job pool."""
    multiprocessing.freeze_support()
    frozen_start()
    sys.exit(run_cli(argv, Program()))


def run_cli(argv: Sequence[str] | None, program: Program) -> int:
    """Parse ``argv``, run the command, and turn user errors into exit codes."""
    parser = _parser(program)
    args = parser.parse_args(_with_default_command(argv, program))
    try:
        result: int = args.handler(args, program)
        return result
    except SplitterError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (`| head`) has gone; say nothing more to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        if exc.filename is None:
            raise  # Not about a file the user named: our bug, with its traceback.
        print(f"{parser.prog}: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _with_default_command(argv: Sequence[str] | None, program: Program) -> list[str]:
    args = list(sys.argv[1:] if argv is None else argv)
    if program.job is None:
        return args
    # `run` is the default command: an entry script run with only options runs.
    first = args[0] if args else ""
    if first not in (*POOL_COMMANDS, *TOOL_COMMANDS) and first not in (
        "-h",
        "--help",
        "--version",
    ):
        args.insert(0, "run")
    return args


def _parser(program: Program) -> argparse.ArgumentParser:
    prog = Path(sys.argv[0]).name if program.job else "splitter"
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Split a batch of jobs across unequal machines, run a share, merge.",
    )
    parser.add_argument("--version", action="version", version=f"splitter {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    tasks = program.job is None
    _add_run(commands, tasks)
    _add_plan(commands, tasks)
    _add_digest(commands, tasks)
    _add_calibrate(commands, tasks)
    _add_init(commands)
    _add_merge(commands)
    _add_status(commands)
    _add_report(commands)
    _add_slurm_script(commands, program)
    _add_owner_commands(commands)
    return parser


def _configs_option(parser: argparse.ArgumentParser, tasks: bool = False) -> None:
    parser.add_argument(
        "--configs", type=Path, metavar="DIR",
        help="folder with machines.json and splitter.ini (default ./configs, else embedded)",
    )  # fmt: skip
    if tasks:
        parser.add_argument(
            "--tasks", type=Path, metavar="FILE", required=True,
            help="the jobs: one shell command per line, disBatch's #DISBATCH directives "
            "honoured (- reads standard input)",
        )  # fmt: skip


def _rescue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rescue", type=Path, metavar="M",
        help="plan only the jobs M/report.json (from merge) lists as missing",
    )  # fmt: skip
    parser.add_argument(
        "--machines", type=_names, metavar="A,B",
        help="with --rescue: plan over these machines (default: those the merge saw)",
    )  # fmt: skip
    parser.add_argument(
        "--force", action="store_true",
        help="with --rescue: rescue even though the merge saw a host still running",
    )  # fmt: skip
    if parser.prog.endswith(" run"):
        return  # run has its own --retry-failed, which also picks the failed ones
    parser.add_argument(
        "--retry-failed", action="store_true", help="with --rescue: also the failed jobs"
    )


def _add_run(commands: Any, tasks: bool) -> None:
    parser = commands.add_parser("run", help="run this host's share (the default command)")
    _configs_option(parser, tasks)
    parser.add_argument("--machine", help="which machine this is (else $SPLITTER_MACHINE)")
    parser.add_argument("--all", action="store_true", help="run the whole pool here")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--expect-digest", metavar="HEX", help="refuse unless the digest starts so"
    )
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument("--workers", type=_positive_int, metavar="N", help="default: its cores")
    parser.add_argument(
        "--retry-failed", action="store_true",
        help="rerun error/crashed/timeout (with --rescue: rescue failed jobs too)",
    )  # fmt: skip
    parser.add_argument("--fresh", action="store_true", help="move an earlier run aside first")
    parser.add_argument(
        "--slurm-array", type=_positive_int, nargs="?", const=0, metavar="N",
        help="be this Slurm array task's machine, of N tasks (else Slurm's count); "
        "implied in an array task with no machine named",
    )  # fmt: skip
    parser.add_argument(
        "--dask", metavar="ADDRESS",
        help="run on a Dask cluster (tcp://host:8786, or local[:N]; else $SPLITTER_DASK)"
        + _not_in_binary(),
    )  # fmt: skip
    parser.add_argument(
        "--dask-attempts", type=_positive_int, default=3, metavar="N",
        help="with --dask: a job whose worker dies N times is recorded crashed (default 3)"
        + _not_in_binary(),
    )  # fmt: skip
    failing = parser.add_mutually_exclusive_group()
    failing.add_argument(
        "--max-failures", type=_positive_int, metavar="N",
        help="stop the run (exit 1) at its N-th failed job; a resume goes on",
    )  # fmt: skip
    failing.add_argument(
        "--fail-fast", action="store_const", const=1, dest="max_failures",
        help="stop the run at its first failed job (--max-failures 1)",
    )  # fmt: skip
    parser.add_argument(
        "--after", type=Path, metavar="M",
        help="start the next phase of a task file with barriers: M is the merge of the last"
        " phase's folders",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", type=Path, nargs="+", default=(), metavar="DIR",
        help="copy the ok rows of these folders (host or merged, same splitter.ini) "
        "instead of running those jobs",
    )  # fmt: skip
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_run)


def _add_plan(commands: Any, tasks: bool) -> None:
    parser = commands.add_parser("plan", help="print the digest and every machine's share")
    _configs_option(parser, tasks)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--since", type=Path, metavar="DIR",
        help="also show what each machine keeps, gains and loses since the plan DIR ran "
        "(a host or merged folder)",
    )  # fmt: skip
    _array_option(parser)
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_plan)


def _add_digest(commands: Any, tasks: bool) -> None:
    parser = commands.add_parser("digest", help="print only the plan digest")
    _configs_option(parser, tasks)
    parser.add_argument("--full", action="store_true", help="all 64 hex digits, ungrouped")
    _array_option(parser)
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_digest)


def _array_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--slurm-array", type=_positive_int, metavar="N",
        help="plan over the N equal tasks of a Slurm array instead of machines.json",
    )  # fmt: skip


def _add_slurm_script(commands: Any, program: Program) -> None:
    parser = commands.add_parser(
        "slurm-script", help="print an sbatch script whose array tasks are the machines"
    )
    parser.add_argument(
        "entry", type=Path, metavar="ENTRY", nargs="?",
        help="the entry script or its binary" + (" (default: this one)" if program.job else ""),
    )  # fmt: skip
    if program.job is None:
        parser.add_argument(
            "--tasks", type=Path, metavar="FILE",
            help="run this task file (ENTRY, if given: the splitter binary that runs it)",
        )  # fmt: skip
    parser.add_argument("--array", type=_positive_int, required=True, metavar="N", help="tasks")
    parser.add_argument("--cpus", type=_positive_int, default=1, metavar="C", help="per task")
    parser.add_argument("--time", metavar="LIMIT", help="sbatch --time, like 2:00:00")
    parser.add_argument("--partition", metavar="NAME", help="sbatch --partition")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument(
        "--logs", type=Path, default=Path("slurm-logs"), metavar="DIR",
        help="the tasks' Slurm logs (created now: Slurm needs it before a task starts)",
    )  # fmt: skip
    _configs_option(parser)
    parser.add_argument(
        "--python", metavar="PATH", help="the interpreter a task runs ENTRY with (a script)"
    )
    parser.set_defaults(handler=_cmd_slurm_script)


def _add_calibrate(commands: Any, tasks: bool) -> None:
    parser = commands.add_parser(
        "calibrate", help="measure this host's per-thread rate on a fixed sample of the jobs"
    )
    _configs_option(parser, tasks)
    parser.add_argument(
        "--machine", help="which machine this is (else $SPLITTER_MACHINE, else the hostname)"
    )
    parser.add_argument(
        "--seconds", type=_positive_float, default=20.0, metavar="S",
        help="about how long to measure, one worker then all (default 20)",
    )  # fmt: skip
    parser.add_argument(
        "--sample", type=_positive_int, default=CALIBRATION_SAMPLE, metavar="N",
        help=f"the first N jobs of the plan order, run in rounds (default {CALIBRATION_SAMPLE}); "
        "give every host the same N",
    )  # fmt: skip
    parser.add_argument("--workers", type=_positive_int, metavar="N", help="default: its CPUs")
    parser.add_argument("--out", type=Path, default=Path("results"), metavar="DIR")
    parser.add_argument(
        "--update", action="store_true", help="write this machine's entry into machines.json"
    )
    parser.set_defaults(
        handler=_cmd_calibrate, rescue=None, machines=None, force=False, slurm_array=None
    )


def _add_init(commands: Any) -> None:
    parser = commands.add_parser("init", help="write config templates (never overwrites)")
    parser.add_argument("--configs", type=Path, default=Path("configs"), metavar="DIR")
    parser.set_defaults(handler=_cmd_init)


def _add_merge(commands: Any) -> None:
    parser = commands.add_parser(
        "merge", help="merge host folders into one result set, one log and a report"
    )
    parser.add_argument(
        "folders", nargs="+", type=Path, metavar="DIR", help="host folders (OUT/<machine>/)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="M", help="merged folder")
    parser.add_argument("--plain", action="store_true", help="write results.csv and log.txt")
    parser.add_argument("--partial", action="store_true", help="exit 0 even if jobs are missing")
    parser.add_argument("--force", action="store_true", help="overwrite merged files in --out")
    parser.add_argument(
        "--status-file", type=Path, metavar="PATH",
        help="also write the task rows in disBatch's tab-separated status layout",
    )  # fmt: skip
    parser.add_argument(
        "--report", action="store_true",
        help="also write M/report.html (needs splitter[report])" + _not_in_binary(),
    )  # fmt: skip
    parser.add_argument(
        "--parquet", action="store_true",
        help="also write M/results.parquet, columns typed (needs splitter[parquet])"
        + _not_in_binary(),
    )  # fmt: skip
    parser.add_argument(
        "--plan", type=Path, metavar="DIR",
        help="merge against the plan DIR ran (default: the newest plan among the folders)",
    )  # fmt: skip
    parser.set_defaults(handler=_cmd_merge)


def _add_status(commands: Any) -> None:
    parser = commands.add_parser(
        "status", help="done / failed / remaining per host folder, also during a run"
    )
    parser.add_argument(
        "folders", nargs="+", type=Path, metavar="DIR", help="host folders (OUT/<machine>/)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_cmd_status)


def _add_report(commands: Any) -> None:
    parser = commands.add_parser(
        "report",
        help="one offline HTML file with the pictures of a merged campaign" + _not_in_binary(),
    )
    parser.add_argument("merged", type=Path, metavar="M", help="the folder `merge --out M` wrote")
    parser.add_argument(
        "--out", type=Path, metavar="FILE.html", help="where to write it (default M/report.html)"
    )
    parser.set_defaults(handler=_cmd_report)


def _not_in_binary() -> str:
    """A help text's note for what a one-file binary leaves out (the optional extras)."""
    return " (not in this binary)" if getattr(sys, "frozen", False) else ""


def _add_owner_commands(commands: Any) -> None:
    folder_help = "the run's folder, OUT/<machine>/"
    pause = commands.add_parser(
        "pause", help="stop this host's running jobs in place until `continue` (same host)"
    )
    pause.add_argument("folder", type=Path, metavar="DIR", help=folder_help)
    pause.add_argument(
        "--soft", action="store_true", help="let the running jobs finish; start no new one"
    )
    pause.set_defaults(handler=_cmd_pause)
    resume = commands.add_parser("continue", help="go on after `pause`")
    resume.add_argument("folder", type=Path, metavar="DIR", help=folder_help)
    resume.set_defaults(handler=_cmd_continue)
    workers = commands.add_parser(
        "workers", help="change how many jobs the run in DIR runs at once, while it runs"
    )
    workers.add_argument("folder", type=Path, metavar="DIR", help=folder_help)
    # Any whole number here: the command itself names the range (1 to this machine's CPUs).
    workers.add_argument("count", type=_whole_number, metavar="N", help="jobs at once")
    workers.set_defaults(handler=_cmd_workers)


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _with_tasks(args: argparse.Namespace, program: Program) -> Program:
    """The program itself, or for ``--tasks FILE`` the task file's (job, pool, key)."""
    if getattr(args, "tasks", None) is None:
        return program
    from splitter.run.shelltask import load_tasks

    job, pool, key, phases = load_tasks(args.tasks)
    return Program(job, pool, key, needs=_task_needs, phases=phases)


def _task_needs(task: Any) -> Any:
    """A task's needs, as its file's ``#SPLITTER NEEDS`` line gave them."""
    return task.needs


def _no_tasks(args: argparse.Namespace, program: Program) -> bool:
    """A task file without a task: say so (exit 0, as disBatch and parallel)."""
    if getattr(args, "tasks", None) is None or program.pool:
        return False
    source = "standard input" if str(args.tasks) == "-" else str(args.tasks)
    say(f"no tasks to run: {source} holds only comments, blank lines and directives")
    return True


def _configs(args: argparse.Namespace) -> tuple[ConfigsLocation, Machine | None]:
    """The configs; for a task file with none anywhere, defaults and this host as one machine."""
    try:
        return locate_configs(args.configs), None
    except SplitterError:
        if getattr(args, "tasks", None) is None or args.configs is not None:
            raise
    from splitter.run.cpus import usable_cpus

    lone = Machine(default_machine_name(socket.gethostname()), 1.0, usable_cpus())
    return ConfigsLocation(
        Path("configs"), "not found: built-in defaults, this host as one machine"
    ), lone


def _campaign(
    args: argparse.Namespace, program: Program, array_tasks: int | None = None
) -> tuple[Campaign, str | None]:
    """The campaign, narrowed to a rescue for plan and digest; and what chose its machines."""
    if args.machines is not None and args.rescue is None:
        raise UsageError("--machines chooses the machines of a rescue; pass it with --rescue M")
    if args.force and args.rescue is None:
        raise UsageError("--force lets a rescue start while a host runs; pass it with --rescue M")
    tasks = array_tasks if args.command == "run" else args.slurm_array
    configs, lone = _configs(args)
    machines: tuple[Machine, ...] | Callable[[Sequence[Needs]], tuple[Machine, ...]] | None
    machines = (lone,) if lone is not None else None
    if tasks is not None:
        machines = functools.partial(array_machines, tasks)
    campaign = load_campaign(
        configs, program.pool, program.key, machines=machines, needs=program.needs,
        phases=program.phases,
    )  # fmt: skip
    if getattr(args, "tasks", None) is not None:
        from splitter.campaign.taskfile import task_settings
        from splitter.run.shelltask import check_task_folder, resolve_shell

        # A bad [tasks] section, a missing shell or folder stops here, before anything is written.
        settings = task_settings(campaign.config, campaign.config_source)
        resolve_shell(settings)
        if not (getattr(args, "dask", None) or os.environ.get("SPLITTER_DASK")):
            check_task_folder(settings, os.getcwd())  # On Dask it is the workers' folder.
    if args.command != "run" and args.rescue is not None:
        from splitter.merge.rescue import load_rescue  # a plain run loads no merge

        rescue = load_rescue(
            campaign, args.rescue, args.retry_failed, args.machines, force=args.force
        )
        return rescue.campaign, rescue.chosen_by
    return campaign, None


def _cmd_plan(args: argparse.Namespace, program: Program) -> int:
    program = _with_tasks(args, program)
    if _no_tasks(args, program):
        return 0
    campaign, rescue_over = _campaign(args, program)
    scales = perf_scale_warning(campaign)
    if scales is not None:
        say(f"warning: {scales}")
    moves = _moves_since(campaign, args.since) if args.since is not None else None
    if args.json:
        shown = plan_json(campaign)
        if moves is not None:
            shown["since"] = moves.as_json()
        print(json.dumps(shown, indent=2))
    else:
        print(plan_table(campaign, rescue_over))
        if moves is not None:
            print()
            print(moves.table())
    return 0


def _moves_since(campaign: Campaign, folder: Path) -> Moves:
    from splitter.store.planfile import PLAN_FILE, read_plan_file

    earlier = read_plan_file(folder)
    if earlier is None:
        raise UsageError(
            f"--since {folder} holds no {PLAN_FILE}; pass a host folder or a merged folder of"
            " an earlier plan, written by this version of splitter"
        )
    plan = campaign.plan
    now = PlanShape(
        plan.digest.hex(), tuple(share.machine.name for share in plan.shares),
        campaign.keys.words, owners(plan),
    )  # fmt: skip
    before = PlanShape(earlier.plan_digest, earlier.machines, earlier.keys, earlier.owners)
    return plan_moves(before, now)


def _cmd_digest(args: argparse.Namespace, program: Program) -> int:
    program = _with_tasks(args, program)
    if _no_tasks(args, program):
        return 0
    digest = _campaign(args, program)[0].plan.digest
    print(full_hex(digest) if args.full else group_digest(digest))
    return 0


def _cmd_init(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.cpus import usable_cpus

    result = write_templates(args.configs, socket.gethostname(), usable_cpus())
    for path in result.written:
        print(f"wrote {path}")
    for path in result.existing:
        print(f"kept {path} (it exists; init never overwrites)")
    if result.written:
        print(
            f"next: list every machine in {args.configs / 'machines.json'} as "
            '"name": [per_thread_perf, cores] (or in the long form of the second entry, '
            "with GPUs, memory and tags), add your own sections to "
            f"{args.configs / 'splitter.ini'}, then copy the folder to every host"
        )
    return 0


def _cmd_merge(args: argparse.Namespace, program: Program) -> int:
    # Imported here, like each command's work: `digest` need not load merge.
    from splitter.merge.combine import merge_folders, reduce_merged
    from splitter.merge.plans import phase_line

    result = merge_folders(
        args.folders, args.out, plain=args.plain, force=args.force,
        with_reduce=program.reduce is not None, plan=args.plan, parquet=args.parquet,
    )  # fmt: skip
    for warning in result.warnings:
        say(f"warning: {warning}")
    print(result.summary)
    phases = phase_line(result.report, str(args.out))
    if phases is not None:
        print(phases)
    for line in result.capacity:
        print(line)
    if program.reduce is not None:
        print(repr(reduce_merged(result, program.reduce, program.initial)))
    if args.report:
        _write_report(args.out, None)
    if args.status_file is not None:
        from splitter.merge.statusfile import write_status_file

        rows = write_status_file(result.results, args.status_file, force=args.force)
        print(f"status of {rows:,} tasks written to {args.status_file}")
    code = result.exit_code(args.partial)
    if code:
        say(
            f"jobs are missing (listed in {args.out / 'report.json'}): merge again with the "
            f"folders that hold them, run `run --rescue {args.out}` on the remaining hosts, "
            "or pass --partial to accept a partial merge"
        )
    return code


def _cmd_report(args: argparse.Namespace, program: Program) -> int:
    _write_report(args.merged, args.out)
    return 0


def _write_report(merged: Path, out: Path | None) -> None:
    from splitter.report.build import write_report

    result = write_report(merged, out, version=__version__)
    for warning in result.warnings:
        say(f"warning: {warning}")
    print(f"report of {result.rows:,} jobs written to {result.path}")


def _cmd_status(args: argparse.Namespace, program: Program) -> int:
    from splitter.merge.status import folder_status, status_table, unseen_machines
    from splitter.store.outdir import is_moved_aside

    folders = [folder for folder in args.folders if not is_moved_aside(folder)]
    for folder in args.folders:
        if is_moved_aside(folder):
            say(f"skipped {folder}: an earlier run that `run --fresh` moved aside")
    statuses = [folder_status(folder) for folder in folders]
    if args.json:
        print(json.dumps([status.as_json() for status in statuses], indent=2))
    else:
        print(status_table(statuses, unseen_machines(folders, statuses)))
    return 0


def _cmd_pause(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.owner.command import pause_run

    print(pause_run(args.folder, args.soft))
    return 0


def _cmd_continue(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.owner.command import continue_run

    print(continue_run(args.folder))
    return 0


def _cmd_workers(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.owner.command import set_workers

    print(set_workers(args.folder, args.count))
    return 0


def _cmd_run(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.command import RunRequest, run_command
    from splitter.run.slurm import array_task_for_run

    program = _with_tasks(args, program)
    assert program.job is not None
    if _no_tasks(args, program):
        return 0
    named = bool(args.machine or os.environ.get("SPLITTER_MACHINE"))
    explicit, tasks = args.slurm_array is not None, args.slurm_array or None
    array = array_task_for_run(explicit, named, args.all, os.environ, tasks)
    _, lone = _configs(args) if getattr(args, "tasks", None) is not None else (None, None)
    if lone is not None and array is None:  # an array's tasks are its machines
        say(
            f"no configs folder: running the tasks here as one machine, {lone.name}, on "
            f"{lone.cores} CPUs with default settings (`splitter init` writes configs to "
            "split them across hosts)"
        )
        args.machine, args.yes = args.machine or lone.name, True
    request = RunRequest(
        machine=args.machine, whole_pool=args.all, yes=args.yes,
        expect_digest=args.expect_digest, out=args.out, workers=args.workers,
        retry_failed=args.retry_failed, fresh=args.fresh, rescue=args.rescue,
        rescue_machines=args.machines, rescue_force=args.force, array=array,
        stop_at_once=getattr(args, "tasks", None) is not None,
        dask=args.dask, dask_attempts=args.dask_attempts, reuse=tuple(args.reuse),
        max_failures=args.max_failures, after=args.after,
    )  # fmt: skip
    campaign, _ = _campaign(args, program, None if array is None else array.count)
    return run_command(campaign, program.job, request)


def _cmd_slurm_script(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.slurm_script import array_script, render_script

    tasks = getattr(args, "tasks", None)
    if args.entry is None and program.job is None and tasks is None:
        raise UsageError(
            "slurm-script needs ENTRY (the entry script or its binary) or --tasks FILE"
        )
    script = array_script(
        args.entry, args.array, cpus=args.cpus, time=args.time, partition=args.partition,
        out=args.out, logs=args.logs, configs=args.configs, python=args.python, task_file=tasks,
    )  # fmt: skip
    if len(script.phases) > 1 and script.tasks > 1:  # one task holds the barriers itself
        from splitter.run.slurm_phases import render_phased

        print(render_phased(script), end="")
    else:
        print(render_script(script), end="")
    return 0


def _cmd_calibrate(args: argparse.Namespace, program: Program) -> int:
    from splitter.campaign.plan import all_jobs
    from splitter.run.calibrate import (
        calibrate,
        check_updatable,
        save_calibration,
        update_machine_entry,
    )
    from splitter.run.cpus import usable_cpus
    from splitter.run.engine import JobPool
    from splitter.run.local import LocalPool
    from splitter.run.sendable import check_sendable

    program = _with_tasks(args, program)
    assert program.job is not None
    if _no_tasks(args, program):
        return 0
    check_not_under_main_guard(program.job)
    campaign, _ = _campaign(args, program)
    machine = _calibrated_machine(campaign, args.machine)
    if args.update:
        _check_update(campaign, check_updatable)
    cores = usable_cpus()
    workers = args.workers or cores
    phases = "one worker" if workers == 1 else f"one worker then {workers}"
    say(
        f"calibrating {machine}: the first {args.sample} jobs of the plan order, in rounds for "
        f"about {args.seconds:g}s, {phases}; nothing enters the results"
    )
    pool = JobPool(campaign.items, campaign.keys, campaign.key)
    check_sendable(program.job, pool, all_jobs(campaign.plan)[: args.sample])
    result = calibrate(
        campaign, program.job, machine, seconds=args.seconds, workers=workers, cores=cores,
        pool=LocalPool, sample_size=args.sample,
    )  # fmt: skip
    for line in result.lines():
        print(line)
    print(f"saved {save_calibration(args.out, result)}")
    if args.update:
        path = campaign.configs.path / MACHINES_FILE
        update_machine_entry(path, machine, *result.entry)
        print(
            f"updated {path}: the plan and its digest change, so copy this file to every "
            "host (and calibrate each of them, so all perfs are jobs/s of the same sample)"
        )
    return 0


def _check_update(campaign: Campaign, check_updatable: Callable[[Path], None]) -> None:
    """Before measuring: refuse an --update that could not be written."""
    if campaign.configs.origin == EMBEDDED_ORIGIN:
        raise UsageError(
            "calibrate --update cannot change the configs embedded in this binary; pass"
            " --configs DIR with a copy of them, or add the entry it prints by hand"
        )
    check_updatable(campaign.configs.path / MACHINES_FILE)


def _calibrated_machine(campaign: Campaign, name: str | None) -> str:
    """--machine, else $SPLITTER_MACHINE, else the entry matching the hostname, else it."""
    if name is not None:
        return check_machine_name(name, "--machine")
    named = os.environ.get("SPLITTER_MACHINE")
    if named:
        return check_machine_name(named, "SPLITTER_MACHINE")
    hostname = socket.gethostname()
    entry = machine_for_hostname(campaign.machines, hostname)
    return entry.name if entry is not None else default_machine_name(hostname)
