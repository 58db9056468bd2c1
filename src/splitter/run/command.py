"""The ``run`` command's work: choose the machine, check the digest, run the share.

Between the parsed command line and ``runner.run_share``: it decides which
share this host runs (its machine's, the whole pool's, or a rescue's), asks
the person at the terminal only what flags have not answered, and names the
output folder.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitter.campaign.digest import digest_matches, group_digest, parse_expected_digest
from splitter.campaign.load import Campaign
from splitter.campaign.machines import (
    MACHINES_FILE,
    Machine,
    check_machine_name,
    find_machine,
    machine_for_hostname,
    machine_name_problem,
)
from splitter.campaign.plan import all_jobs, share_jobs
from splitter.errors import EXIT_OK, UsageError, VerificationError
from splitter.run.cpus import usable_cpus
from splitter.run.engine import EngineFactory, JobPool
from splitter.run.local import LocalPool
from splitter.run.local.dispatch import local_slots
from splitter.run.mainguard import check_not_under_main_guard
from splitter.run.prompt import ask, ask_machine, confirm, say
from splitter.run.runner import RunOptions, run_share
from splitter.run.sendable import check_sendable
from splitter.run.slurm import ArrayTask

if TYPE_CHECKING:
    from splitter.merge.rescue import Rescue

__all__ = ["RunRequest", "run_command"]


@dataclass(frozen=True)
class RunRequest:
    """The ``run`` options, as parsed."""

    machine: str | None
    whole_pool: bool
    yes: bool
    expect_digest: str | None
    out: Path
    workers: int | None
    retry_failed: bool
    fresh: bool
    rescue: Path | None
    rescue_machines: tuple[str, ...] | None = None
    rescue_force: bool = False
    """Rescue even though the merge saw a host still running."""
    array: ArrayTask | None = None
    """The Slurm array task this run is (its campaign planned over the array's tasks)."""
    stop_at_once: bool = False
    """Ctrl-C and SIGTERM stop the running jobs at once (shell tasks)."""
    dask: str | None = None
    """A Dask scheduler's address or ``local[:N]`` (else $SPLITTER_DASK; else the local pool)."""
    dask_attempts: int = 3
    reuse: tuple[Path, ...] = ()
    """Folders of the same splitter.ini whose ok rows are copied instead of run."""
    after: Path | None = None
    """``--after M``: the merge of the last phase's folders, which says what may run now."""
    max_failures: int | None = None
    """Stop at the run's N-th failed job (``--max-failures N``, ``--fail-fast``)."""


def run_command(campaign: Campaign, job: Callable[..., Any], request: RunRequest) -> int:
    """Run this host's share as ``request`` says; return the exit code."""
    extra: list[tuple[str, object]] = [("all", request.whole_pool)]
    folder_name: Callable[[str], str] = str
    if request.rescue is not None:
        from splitter.merge.rescue import describe, load_rescue  # a plain run loads no merge

        rescue = load_rescue(
            campaign, request.rescue, request.retry_failed, request.rescue_machines,
            force=request.rescue_force,
        )  # fmt: skip
        campaign = rescue.campaign
        say(describe(rescue))
        _check_rescuer(campaign, _given_machine(request.machine), rescue)
        if not campaign.plan.size:
            say(f"nothing to rescue: {rescue.report} lists no jobs to run")
            return EXIT_OK
        folder_name = _checked(rescue.folder_name)
        extra += [("plan_digest", rescue.plan_digest), ("rescue", str(rescue.report))]
    if request.array is not None:
        extra.append(("slurm", request.array.as_json()))
        request = _as_array_task(request, request.array)
    engine = _dask_engine(request)
    if engine is None:  # Dask sends the job by value; local workers import it by name
        check_not_under_main_guard(job)
    plan = campaign.plan
    interactive = sys.stdin.isatty()
    given = _given_machine(request.machine)
    if request.whole_pool:
        # The whole pool needs no machine; without --machine its folder is OUT/all.
        machine = _find(campaign, given) if given and request.machine else None
        name, share = (machine.name if machine else "all"), all_jobs(plan)
    else:
        machine = _chosen(campaign, given, interactive)
        name, share = machine.name, share_jobs(plan, plan.share_for(machine.name))
    # Before the question: a run that could not send its jobs would only fail later.
    check_sendable(job, JobPool(campaign.items, campaign.keys, campaign.key), share,
                   dask=engine is not None)  # fmt: skip
    _verify(request, plan.digest, name, len(share), plan.size, interactive)
    cores = machine.cores if machine else usable_cpus()
    if machine is not None and not request.whole_pool:
        # Declared capacity beside the observed one, for merge's report (absent for --all).
        extra += [("perf", machine.perf), ("cores", machine.cores)]
    options = RunOptions(
        out=request.out, machine=name, folder=folder_name(name),
        workers=request.workers or cores, retry_failed=request.retry_failed,
        fresh=request.fresh, interactive=sys.stderr.isatty(), stream=sys.stderr,
        manifest_extra=tuple(extra), stop_at_once=request.stop_at_once, reuse=request.reuse,
        max_failures=request.max_failures,
        last_phase=_last_phase(campaign, request, exact=engine is not None),
    )  # fmt: skip
    if engine is not None:
        return run_share(campaign, job, share, options, engine).exit_code
    lends = _array_capacity(machine, request) if request.array is not None else machine
    host = local_slots(lends, options.workers, campaign.kinds, share, _host(campaign))
    return run_share(campaign, job, share, options, LocalPool(options.workers, host)).exit_code


def _last_phase(campaign: Campaign, request: RunRequest, exact: bool) -> int | None:
    """The last phase this run may run: every one where one process sees every job.

    Those are ``--all``, Dask and a plan of one machine: the runner holds the
    barriers itself (None). In a static split, the first phase, or the one
    ``--after M`` allows.
    """
    phases = campaign.phases
    one_process = exact or request.whole_pool or len(campaign.plan.shares) == 1
    if request.after is not None and (phases.count == 1 or one_process):
        raise UsageError(
            "--after starts the next phase of a static split of a task file with barriers;"
            " here the barriers are held by this run itself, so run without --after"
            if phases.count > 1
            else "--after starts the next phase after a barrier, and this campaign has none;"
            " run without --after"
        )
    if phases.count == 1 or one_process:
        return None
    if request.after is None:
        return 0
    from splitter.merge.after import load_after  # only then is merge loaded

    after = load_after(campaign, request.after)
    say(f"{after.report} lets phase {after.phase + 1} of {after.phases} run")
    return after.phase


def _host(campaign: Campaign) -> tuple[bool, bool]:
    return campaign.settings.pin_cores, campaign.settings.enforce_mem


def _array_capacity(machine: Machine | None, request: RunRequest) -> Machine | None:
    """What an array task lends its jobs: the CPUs and the memory (--mem) Slurm gave it."""
    if machine is None:
        return None
    mem = os.environ.get("SLURM_MEM_PER_NODE", "")
    cores = request.workers or usable_cpus()
    granted = int(mem) * 2**20 if mem.isdigit() else machine.mem
    return dataclasses.replace(machine, cores=max(cores, machine.cores), mem=granted)


def _dask_engine(request: RunRequest) -> EngineFactory | None:
    """The Dask engine when --dask or $SPLITTER_DASK asks for one; only then is Dask loaded."""
    if request.dask is None and not os.environ.get("SPLITTER_DASK"):
        return None
    from splitter.run.dask import dask_engine

    return dask_engine(request.dask, request.dask_attempts)


def _check_rescuer(campaign: Campaign, name: str | None, rescue: Rescue) -> None:
    """A machine the rescue does not plan over has no share of it: say why, not 'unknown'."""
    names = [machine.name for machine in campaign.machines]
    if name and name not in names:
        raise UsageError(
            f"machine {name!r} has no share of this rescue, which runs over {', '.join(names)}"
            f" ({rescue.chosen_by}); run it on one of those, or pass --machines to choose"
        )


def _as_array_task(request: RunRequest, task: ArrayTask) -> RunRequest:
    """The request of array task ``task``: its machine, and the CPUs Slurm gave it."""
    if task.restart_count:
        say(
            f"Slurm requeued this task (restart {task.restart_count}): {task.name} resumes "
            "its folder"
        )
    workers = request.workers or task.cpus or usable_cpus()
    return dataclasses.replace(request, machine=task.name, workers=workers)


def _given_machine(flag: str | None) -> str | None:
    """``--machine``, else $SPLITTER_MACHINE (empty: unset), checked as machines.json names."""
    if flag is not None:
        return check_machine_name(flag, "--machine")
    named = os.environ.get("SPLITTER_MACHINE")
    return check_machine_name(named, "SPLITTER_MACHINE") if named else None


def _checked(folder_name: Callable[[str], str]) -> Callable[[str], str]:
    """``folder_name``, refusing a name it makes that cannot be a folder's (too long)."""

    def checked(machine: str) -> str:
        folder = folder_name(machine)
        problem = machine_name_problem(folder)
        if problem is not None:
            raise UsageError(
                f"machine {machine!r} would write in a folder {folder!r}, which {problem}"
            )
        return folder

    return checked


def _chosen(campaign: Campaign, name: str | None, interactive: bool) -> Machine:
    """The machine given (``--machine``, $SPLITTER_MACHINE), else the prompt's (a terminal's)."""
    if name:
        return _find(campaign, name)
    if not interactive:
        known = ", ".join(m.name for m in campaign.machines)
        raise UsageError(
            f"no machine chosen and no terminal to ask on; pass --machine NAME or set "
            f"SPLITTER_MACHINE (known in {campaign.configs.path / MACHINES_FILE}: {known})"
        )
    preselected = machine_for_hostname(campaign.machines, socket.gethostname())
    return ask_machine(campaign.machines, preselected, ask, say)


def _find(campaign: Campaign, name: str) -> Machine:
    return find_machine(campaign.machines, name, str(campaign.configs.path / MACHINES_FILE))


def _verify(
    request: RunRequest, digest: bytes, name: str, share: int, total: int, interactive: bool
) -> None:
    grouped = group_digest(digest)
    if request.expect_digest is not None:
        expected = parse_expected_digest(request.expect_digest)
        if not digest_matches(expected, digest):
            raise VerificationError(
                f"digest mismatch: this plan is {grouped}, but --expect-digest is {expected}; "
                "the configs or the job pool differ from the other hosts'"
            )
    say(f"machine {name}: {share} of {total} jobs, digest {grouped}")
    if request.yes or request.expect_digest is not None:
        return
    if not interactive:
        raise UsageError(
            "no terminal to confirm on; pass --yes, or --expect-digest HEX to check the digest"
        )
    confirm("Does the digest match the other hosts'? Start?", ask)
