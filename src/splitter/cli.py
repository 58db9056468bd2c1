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

from splitter.campaign import Campaign, load_campaign, locate_configs
from splitter.digest import digest_matches, full_hex, group_digest, parse_expected_digest
from splitter.errors import EXIT_INTERRUPTED, SplitterError, UsageError, VerificationError
from splitter.machines import Machine, find_machine, machine_for_hostname
from splitter.plan import all_jobs, share_jobs
from splitter.planview import plan_json, plan_table
from splitter.prompt import ask_machine, confirm
from splitter.runner import RunOptions, run_share
from splitter.templates import write_templates
from splitter.version import __version__

__all__ = ["console_main", "main"]

POOL_COMMANDS = ("run", "plan", "digest")
TOOL_COMMANDS = ("init",)


@dataclass(frozen=True)
class Program:
    """What the entry script handed to ``splitter.main``."""

    job: Callable[..., Any] | None = None
    pool: Any = None
    key: Callable[[Any], Any] | None = None


def main(
    job: Callable[..., Any],
    pool: Any,
    *,
    key: Callable[[Any], Any] | None = None,
    argv: Sequence[str] | None = None,
) -> NoReturn:
    """The whole command line for an entry script: ``splitter.main(job, pool)``."""
    # First thing: in a frozen binary, a worker process starts here and must
    # never reach argument parsing.
    multiprocessing.freeze_support()
    sys.exit(run_cli(argv, Program(job, pool, key)))


def console_main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``splitter`` console script: the commands that need no job pool."""
    multiprocessing.freeze_support()
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
    return parser


def _configs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configs", type=Path, metavar="DIR",
        help="folder with machines.json and splitter.ini (default ./configs, else embedded)",
    )  # fmt: skip


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
    parser.add_argument("--retry-failed", action="store_true", help="rerun error/crashed/timeout")
    parser.add_argument("--fresh", action="store_true", help="move an earlier run aside first")
    parser.set_defaults(handler=_cmd_run)


def _add_plan(commands: Any) -> None:
    parser = commands.add_parser("plan", help="print the digest and every machine's share")
    _configs_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=_cmd_plan)


def _add_digest(commands: Any) -> None:
    parser = commands.add_parser("digest", help="print only the plan digest")
    _configs_option(parser)
    parser.add_argument("--full", action="store_true", help="all 64 hex digits, ungrouped")
    parser.set_defaults(handler=_cmd_digest)


def _add_init(commands: Any) -> None:
    parser = commands.add_parser("init", help="write config templates (never overwrites)")
    parser.add_argument("--configs", type=Path, default=Path("configs"), metavar="DIR")
    parser.set_defaults(handler=_cmd_init)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _campaign(args: argparse.Namespace, program: Program) -> Campaign:
    return load_campaign(locate_configs(args.configs), program.pool, program.key)


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


def _cmd_run(args: argparse.Namespace, program: Program) -> int:
    assert program.job is not None
    campaign = _campaign(args, program)
    plan = campaign.plan
    interactive = sys.stdin.isatty()
    if args.all:
        name = args.machine or "all"
        share = all_jobs(plan)
        cores = _chosen(campaign, args.machine, interactive=False).cores if args.machine else None
    else:
        machine = _chosen(
            campaign, args.machine or os.environ.get("SPLITTER_MACHINE"), interactive
        )
        name, share, cores = (
            machine.name,
            share_jobs(plan, plan.share_for(machine.name)),
            machine.cores,
        )
    _verify(args, plan.digest, name, len(share), plan.total, interactive)
    options = RunOptions(
        out=args.out, machine=name, digest=plan.digest,
        workers=args.workers or cores or os.cpu_count() or 1,
        retry_failed=args.retry_failed, fresh=args.fresh,
        interactive=sys.stderr.isatty(), stream=sys.stderr,
        manifest_extra=(("all", bool(args.all)),),
    )  # fmt: skip
    summary = run_share(campaign, program.job, share, options)
    return summary.exit_code


def _chosen(campaign: Campaign, name: str | None, interactive: bool) -> Machine:
    source = str(campaign.configs.path / "machines.json")
    if name:
        return find_machine(campaign.machines, name, source)
    known = ", ".join(m.name for m in campaign.machines)
    if not interactive:
        raise UsageError(
            f"no machine chosen and no terminal to ask on; pass --machine NAME "
            f"or set SPLITTER_MACHINE (known in {source}: {known})"
        )
    preselected = machine_for_hostname(campaign.machines, socket.gethostname())
    return ask_machine(campaign.machines, preselected, _ask, _say)


def _verify(
    args: argparse.Namespace, digest: bytes, name: str, share: int, total: int, interactive: bool
) -> None:
    grouped = group_digest(digest)
    if args.expect_digest is not None:
        expected = parse_expected_digest(args.expect_digest)
        if not digest_matches(expected, digest):
            raise VerificationError(
                f"digest mismatch: this plan is {grouped}, but --expect-digest is {expected}; "
                "the configs or the job pool differ from the other hosts'"
            )
    _say(f"machine {name}: {share} of {total} jobs, digest {grouped}")
    if args.yes or args.expect_digest is not None:
        return
    if not interactive:
        raise UsageError(
            "no terminal to confirm on; pass --yes, or --expect-digest HEX to check the digest"
        )
    confirm("Does the digest match the other hosts'? Start?", _ask)


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _ask(question: str) -> str:
    # On stderr like the rest of the dialogue, so `> file` does not hide it.
    print(question, end="", file=sys.stderr, flush=True)
    return input()
