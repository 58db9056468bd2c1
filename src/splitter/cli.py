"""The command line: a thin adapter from argv to the library, and its error edge.

``splitter.main(job, pool)`` serves the user's entry script (and so the frozen
binary) with every command; the ``splitter`` console script serves those that
need no job pool. Each command is a pair ``_add_<cmd>`` / ``_cmd_<cmd>``. A
``SplitterError`` becomes one sentence on stderr and its exit code; anything
else is our bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from splitter.campaign.digest import full_hex, group_digest
from splitter.campaign.load import Campaign, load_campaign, locate_configs
from splitter.campaign.templates import write_templates
from splitter.campaign.view import plan_json, plan_table
from splitter.errors import EXIT_INTERRUPTED, SplitterError
from splitter.frozen import frozen_start
from splitter.merge.rescue import load_rescue
from splitter.run.prompt import say
from splitter.version import __version__

__all__ = ["console_main", "main"]

POOL_COMMANDS = ("run", "plan", "digest")
TOOL_COMMANDS = ("init", "merge", "status")


@dataclass(frozen=True)
class Program:
    """What the entry script handed to ``splitter.main``."""

    job: Callable[..., Any] | None = None
    pool: Any = None
    key: Callable[[Any], Any] | None = None
    reduce: Callable[[Any, dict[str, Any]], Any] | None = None
    initial: Any = None


def main(
    job: Callable[..., Any],
    pool: Any,
    *,
    key: Callable[[Any], Any] | None = None,
    reduce: Callable[[Any, dict[str, Any]], Any] | None = None,
    initial: Any = None,
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """The whole command line for an entry script: ``splitter.main(job, pool)``.

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
    # never reach argument parsing.
    multiprocessing.freeze_support()
    frozen_start()
    sys.exit(run_cli(argv, Program(job, pool, key, reduce, initial)))


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
    if program.job is not None:
        _add_run(commands)
        _add_plan(commands)
        _add_digest(commands)
    _add_init(commands)
    _add_merge(commands)
    _add_status(commands)
    return parser


def _configs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configs", type=Path, metavar="DIR",
        help="folder with machines.json and splitter.ini (default ./configs, else embedded)",
    )  # fmt: skip


def _rescue_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rescue", type=Path, metavar="M",
        help="plan only the jobs M/report.json (from merge) lists as missing",
    )  # fmt: skip
    if parser.prog.endswith(" run"):
        return  # run has its own --retry-failed, which also picks the failed ones
    parser.add_argument(
        "--retry-failed", action="store_true", help="with --rescue: also the failed jobs"
    )


def _add_run(commands: Any) -> None:
    parser = commands.add_parser("run", help="run this host's share (the default command)")
    _configs_option(parser)
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
        "--dask", metavar="ADDRESS",
        help="run on a Dask cluster (tcp://host:8786, or local[:N]; else $SPLITTER_DASK)",
    )  # fmt: skip
    parser.add_argument(
        "--dask-attempts", type=_positive_int, default=3, metavar="N",
        help="with --dask: a job whose worker dies N times is recorded crashed (default 3)",
    )  # fmt: skip
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_run)


def _add_plan(commands: Any) -> None:
    parser = commands.add_parser("plan", help="print the digest and every machine's share")
    _configs_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_plan)


def _add_digest(commands: Any) -> None:
    parser = commands.add_parser("digest", help="print only the plan digest")
    _configs_option(parser)
    parser.add_argument("--full", action="store_true", help="all 64 hex digits, ungrouped")
    _rescue_options(parser)
    parser.set_defaults(handler=_cmd_digest)


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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _campaign(args: argparse.Namespace, program: Program) -> Campaign:
    campaign = load_campaign(locate_configs(args.configs), program.pool, program.key)
    if args.command != "run" and args.rescue is not None:
        campaign = load_rescue(campaign, args.rescue, args.retry_failed).campaign
    return campaign


def _cmd_plan(args: argparse.Namespace, program: Program) -> int:
    campaign = _campaign(args, program)
    if args.json:
        print(json.dumps(plan_json(campaign), indent=2))
    else:
        print(plan_table(campaign))
    return 0


def _cmd_digest(args: argparse.Namespace, program: Program) -> int:
    digest = _campaign(args, program).plan.digest
    print(full_hex(digest) if args.full else group_digest(digest))
    return 0


def _cmd_init(args: argparse.Namespace, program: Program) -> int:
    result = write_templates(args.configs, socket.gethostname(), os.cpu_count() or 1)
    for path in result.written:
        print(f"wrote {path}")
    for path in result.existing:
        print(f"kept {path} (it exists; init never overwrites)")
    if result.written:
        print(
            f"next: list every machine in {args.configs / 'machines.json'} as "
            '"name": [per_thread_perf, cores], add your own sections to '
            f"{args.configs / 'splitter.ini'}, then copy the folder to every host"
        )
    return 0


def _cmd_merge(args: argparse.Namespace, program: Program) -> int:
    # Imported here, like each command's work: `digest` need not load merge.
    from splitter.merge.combine import merge_folders, reduce_merged

    result = merge_folders(
        args.folders, args.out, plain=args.plain, force=args.force,
        with_reduce=program.reduce is not None,
    )  # fmt: skip
    for warning in result.warnings:
        say(f"warning: {warning}")
    print(result.summary)
    if program.reduce is not None:
        print(repr(reduce_merged(result, program.reduce, program.initial)))
    code = result.exit_code(args.partial)
    if code:
        say(
            f"jobs are missing (listed in {args.out / 'report.json'}): merge again with the "
            f"folders that hold them, run `run --rescue {args.out}` on the remaining hosts, "
            "or pass --partial to accept a partial merge"
        )
    return code


def _cmd_status(args: argparse.Namespace, program: Program) -> int:
    from splitter.merge.status import folder_status, status_table

    statuses = [folder_status(folder) for folder in args.folders]
    if args.json:
        print(json.dumps([status.as_json() for status in statuses], indent=2))
    else:
        print(status_table(statuses))
    return 0


def _cmd_run(args: argparse.Namespace, program: Program) -> int:
    from splitter.run.command import RunRequest, run_command

    assert program.job is not None
    request = RunRequest(
        machine=args.machine, whole_pool=args.all, yes=args.yes,
        expect_digest=args.expect_digest, out=args.out, workers=args.workers,
        retry_failed=args.retry_failed, fresh=args.fresh, rescue=args.rescue,
        dask=args.dask, dask_attempts=args.dask_attempts,
    )  # fmt: skip
    return run_command(_campaign(args, program), program.job, request)
