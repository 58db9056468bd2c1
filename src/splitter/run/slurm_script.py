"""The sbatch script of a Slurm job array whose tasks are the machines of one plan.

``slurm-script ENTRY --array N`` prints it; a person reads, edits and submits
it. Each task runs ``ENTRY run --slurm-array N`` with the plan digest baked in
(``--expect-digest``: a task whose inputs differ refuses to run), writes its
own folder ``OUT/task-<k>`` and logs to ``LOGS/slurm-<job>_<task>.log``.

How a task finds the program: a frozen binary (``make exe``) runs itself; any
other ENTRY is a Python script, run by an interpreter, by default the one
running ``slurm-script`` (``sys.executable``: the venv where splitter is
installed), which the nodes must see at the same path (a shared file system),
or by ``--python PATH``. A frozen ``splitter`` cannot run a Python script, so
there ``--python`` is required. For a task file (``--tasks F``) the program
is splitter itself: this binary, or ``python -m splitter``, or the splitter
binary given as ENTRY; every task then runs ``run --tasks F``.

What a task asks Slurm for comes from the campaign's kinds of job
(``task_resources``): each task holds the most any kind needs, so that every
task can run every kind (see SAME_FOR_EVERY_TASK for why).

``render_script``, ``task_resources`` and ``entry_command`` are pure;
``probe_plan`` runs the entry once, as the tasks will, to learn the digest
and the kinds of job; ``array_script`` gathers it all for the command.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.campaign.array import check_array_size
from splitter.campaign.digest import group_digest
from splitter.campaign.needs import Needs
from splitter.errors import UsageError

__all__ = [
    "ArrayScript",
    "TaskResources",
    "array_script",
    "entry_command",
    "probe_plan",
    "render_script",
    "task_resources",
    "tasks_command",
]

ELF_MAGIC = b"\x7fELF"
# Before a time limit, Slurm sends SIGINT to the task this many seconds ahead:
# the run stops dispatching and ends cleanly (exit 130), and a rerun resumes.
SIGNAL_LEAD_SECONDS = 120
# Why one array asks for the most of each count rather than one array per kind,
# said in the script itself, where the person editing it reads it.
SAME_FOR_EVERY_TASK = (
    "# Every task asks for the most any kind of job needs: the tasks are the equal",
    "# machines of one plan, each running a share of every kind, so each must hold",
    "# every kind (one array per kind would be one plan per kind, each with its own",
    "# digest and merge). --mem is enough for as many jobs as its cpus and GPUs run at once.",
)


@dataclass(frozen=True)
class TaskResources:
    """What one array task asks Slurm for: cpus, GPUs (gres) and memory in bytes (0: none)."""

    cpus: int
    gpus: int = 0
    mem: int = 0


def task_resources(kinds: Sequence[Needs], cpus: int) -> TaskResources:
    """The cpus, GPUs and memory a task needs to run every kind of the campaign.

    At least ``cpus`` (``--cpus``) and the most cores and GPUs any kind needs;
    memory for the kind that needs the most with as many of its jobs running
    as fit in those cpus and GPUs at once. Tags and named counts have no
    Slurm equivalent here: a task gets what it asks for on any node.
    """
    cores = max([cpus, *(kind.cores for kind in kinds)])
    gpus = max([0, *(kind.gpus for kind in kinds)])
    mem = 0
    for kind in kinds:
        at_once = min(cores // kind.cores, gpus // kind.gpus if kind.gpus else cores)
        mem = max(mem, kind.mem * at_once)
    return TaskResources(cores, gpus, mem)


@dataclass(frozen=True)
class ArrayScript:
    """Everything the script says: the command of a task and the array's options."""

    command: tuple[str, ...]
    """The program of a task: ``(binary,)`` or ``(python, script)``, absolute paths."""
    tasks: int
    digest: bytes
    workdir: Path
    out: Path
    logs: Path
    cpus: int = 1
    gpus: int = 0
    mem: int = 0
    """Bytes per task for ``--mem``; 0 asks for Slurm's default."""
    configs: Path | None = None
    time: str | None = None
    partition: str | None = None
    job_name: str = "splitter"
    task_file: Path | None = None
    """The task file every task runs (``--tasks``), absolute; None for an entry's own pool."""
    phases: tuple[bool, ...] = ()
    """A task file with barriers: per phase, whether the barrier opening it checks."""


def array_script(
    entry: Path | None,
    tasks: int,
    *,
    cpus: int,
    out: Path,
    logs: Path,
    configs: Path | None = None,
    time: str | None = None,
    partition: str | None = None,
    python: str | None = None,
    task_file: Path | None = None,
) -> ArrayScript:
    """The script for ENTRY (default: the running entry script or binary) as ``tasks`` tasks.

    With ``task_file``, the tasks run that task file (ENTRY, if given, is the
    splitter binary to run it with). Paths become absolute, as the tasks start
    elsewhere; the logs folder is made now, since Slurm opens a task's log
    before the task starts. The campaign's kinds of job (from its plan) set
    what each task asks for, with ``cpus`` at least.
    """
    check_array_size(tasks)
    frozen = bool(getattr(sys, "frozen", False))
    if task_file is not None:
        if str(task_file) == "-":
            raise UsageError(
                "slurm-script --tasks - cannot work: every array task reads the task file "
                "again; save the tasks to a file and pass its path"
            )
        task_file = task_file.resolve()
        head = _head(entry.resolve()) if entry is not None else b""
        command = tasks_command(entry and entry.resolve(), head, python, frozen, sys.executable)
        name = task_file.stem
    else:
        path = (entry or Path(sys.executable if frozen else sys.argv[0])).resolve()
        command, name = entry_command(path, _head(path), python, frozen, sys.executable), path.stem
    configs = None if configs is None else configs.resolve()
    workdir = Path.cwd()
    digest, kinds, checks = probe_plan(command, tasks, configs, workdir, task_file)
    logs = logs.resolve()
    logs.mkdir(parents=True, exist_ok=True)
    asks = task_resources(kinds, cpus)
    return ArrayScript(
        command=command, tasks=tasks, digest=digest, workdir=workdir, out=out.resolve(),
        logs=logs, cpus=asks.cpus, gpus=asks.gpus, mem=asks.mem, configs=configs, time=time,
        partition=partition, job_name=name, task_file=task_file, phases=checks,
    )  # fmt: skip


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(len(ELF_MAGIC))
    except OSError as exc:
        raise UsageError(
            f"cannot read ENTRY {path} ({exc.strerror}); pass the entry script or its binary"
        ) from None


def tasks_command(
    entry: Path | None, head: bytes, python: str | None, frozen: bool, executable: str
) -> tuple[str, ...]:
    """How a task starts splitter to run a task file: ENTRY (a splitter binary), else this one.

    This one is the running binary when frozen (unless ``python`` is given),
    else ``python -m splitter`` with ``python`` or the running interpreter.
    """
    if entry is not None:
        if not head.startswith(ELF_MAGIC):
            raise UsageError(
                f"with --tasks, ENTRY is the splitter binary that runs them, and {entry} is not "
                "a binary; leave ENTRY out to run them with this splitter"
            )
        return (str(entry),)
    if frozen and python is None:
        return (executable,)
    return (python or executable, "-m", "splitter")


def entry_command(
    entry: Path, head: bytes, python: str | None, frozen: bool, executable: str
) -> tuple[str, ...]:
    """How a task starts ENTRY, whose first bytes are ``head``.

    A frozen binary (an ELF file) runs itself; anything else is a Python script,
    run by ``python`` if given, else by ``executable`` (the interpreter running
    now), unless that is itself a frozen binary, which cannot run scripts.
    """
    if head.startswith(ELF_MAGIC):
        return (str(entry),)
    if python is None and frozen:
        raise UsageError(
            f"{entry} is a Python script, which this frozen splitter cannot run; pass "
            "--python PATH (an interpreter with splitter installed, as the nodes see it), "
            f"or build the script into a binary with `make exe ENTRY={entry.name}` and pass that"
        )
    return (python or executable, str(entry))


def probe_plan(
    command: Sequence[str],
    tasks: int,
    configs: Path | None,
    cwd: Path,
    task_file: Path | None = None,
) -> tuple[bytes, tuple[Needs, ...], tuple[bool, ...]]:
    """The plan digest of an array of ``tasks``, the kinds of job and, for a task file with
    barriers, whether each phase's barrier checks: as a task computes them."""
    argv = [*command, "plan", "--json", "--slurm-array", str(tasks)]
    if task_file is not None:
        argv += ["--tasks", str(task_file)]
    if configs is not None:
        argv += ["--configs", str(configs)]
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600
        )
    except OSError as exc:
        raise UsageError(f"cannot start {shlex.join(command)} ({exc}); check ENTRY") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UsageError(
            f"`{shlex.join(argv)}` failed (exit {done.returncode}: {said}); fix that first, "
            "since every task would fail the same way"
        )
    try:
        shown = json.loads(done.stdout)
        digest = bytes.fromhex(shown["digest"])
        kinds = tuple(_kind(kind) for kind in shown.get("kinds", ()))
        checks = tuple(bool(phase["check"]) for phase in shown.get("phases", ()))
    except (ValueError, KeyError, TypeError):
        printed = done.stdout.strip()[:80]
        raise UsageError(f"`{shlex.join(argv)}` printed {printed!r}, not a plan") from None
    return digest, kinds, checks


def _kind(shown: Any) -> Needs:
    """A kind of job as ``plan --json`` shows it."""
    named = tuple(sorted((str(name), int(count)) for name, count in shown["resources"].items()))
    return Needs(
        int(shown["cores"]), int(shown["gpus"]), int(shown["mem"]), tuple(shown["tags"]), named
    )


def render_script(script: ArrayScript) -> str:
    """The sbatch script text: a commented header, the #SBATCH lines, one exec line."""
    last = script.tasks - 1
    tasks = "task-0" if last == 0 else f"task-0 ... task-{last}"
    quote = shlex.quote
    header = [
        "#!/bin/bash",
        f"# A Slurm job array of {script.tasks} tasks for splitter: each task is one machine",
        f"# of the plan, {tasks}, running its equal share of the job pool.",
        f"#   digest   {group_digest(script.digest)}  (plan --slurm-array {script.tasks})",
        f"#   results  {script.out}/task-<k>, one folder per task",
        f"#   logs     {script.logs}/slurm-<job id>_<task>.log",
        *([f"#   tasks    {script.task_file}"] if script.task_file is not None else []),
        "# Submit with `sbatch THIS_FILE`; when all tasks are done, merge their folders:",
        f"#   {shlex.join(script.command)} merge {quote(str(script.out))}/task-* --out merged",
        "# A requeued task (scontrol requeue, preemption, node failure) resumes its folder.",
        "# Rerun some tasks alone with `sbatch --array=K,L THIS_FILE`: each resumes its folder.",
        "# Another --array size is another plan: print a new script for it, do not edit it.",
    ]
    options = [
        f"--job-name={quote(script.job_name)}",
        f"--array=0-{last}",
        f"--cpus-per-task={script.cpus}",
    ]
    if script.gpus:
        options.append(f"--gres=gpu:{script.gpus}")
    if script.mem:
        options.append(f"--mem={_slurm_size(script.mem)}")
    if script.gpus or script.mem:
        header.extend(SAME_FOR_EVERY_TASK)
    if script.time is not None:
        options += [f"--time={quote(script.time)}", f"--signal=B:INT@{SIGNAL_LEAD_SECONDS}"]
    if script.partition is not None:
        options.append(f"--partition={quote(script.partition)}")
    options += [
        f"--chdir={quote(str(script.workdir))}",
        f"--output={quote(str(script.logs / 'slurm-%A_%a.log'))}",
        "--open-mode=append",
        "--requeue",
    ]
    run = [f"exec {shlex.join(script.command)} run --slurm-array {script.tasks}"]
    if script.task_file is not None:
        run.append(f"--tasks {quote(str(script.task_file))}")
    run.append(f"--expect-digest {script.digest.hex()}")
    if script.configs is not None:
        run.append(f"--configs {quote(str(script.configs))}")
    run.append(f"--out {quote(str(script.out))}")
    if len(script.phases) > 1:
        run.append('${SPLITTER_AFTER:+--after "$SPLITTER_AFTER"}')
    body = [
        "",
        "set -euo pipefail",
        "# exec: Slurm's signals (cancel, time limit) reach the run itself.",
        " \\\n    ".join(run),
        "",
    ]
    return "\n".join([*header, *(f"#SBATCH {option}" for option in options), *body])


def _slurm_size(size: int) -> str:
    """Bytes as Slurm reads --mem (1024-based units), rounded up to whole MiB."""
    mebibytes = -(-size // 2**20)
    return f"{mebibytes // 1024}G" if mebibytes % 1024 == 0 else f"{mebibytes}M"
