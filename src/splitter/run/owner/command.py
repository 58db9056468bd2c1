"""The owner's commands on a run's folder: ``pause``, ``continue`` and ``workers``.

    check: the folder holds a live run (its manifest says running, a process holds run.lock)
    write: control.json, addressed to that run (`splitter.store.control`)
    wait:  until the run's manifest shows the request applied (a fraction of a second)

Any terminal of the host may steer the run this way: the folder is the
handle. Each function returns the line to print; what cannot be done is a
UsageError of one sentence.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitter.errors import UsageError
from splitter.run.display import format_seconds
from splitter.store.control import Control, folder_locked, read_control, write_control
from splitter.store.lock import probe_lock
from splitter.store.manifest import MANIFEST_NAME, read_manifest

__all__ = ["ACK_SECONDS", "continue_run", "pause_run", "set_workers"]

ACK_SECONDS = 10.0


@dataclass(frozen=True)
class _LiveRun:
    """A run that is running now in a folder: its machine, its id and its manifest's ``owner``."""

    folder: Path
    machine: str
    owner: dict[str, Any]

    def request(self) -> Control:
        """The request standing for this run (one for an earlier run does not count)."""
        found = read_control(self.folder)
        run = str(self.owner["run"])
        return found if found is not None and found.run == run else Control(run)


def pause_run(folder: Path, soft: bool) -> str:
    """Pause the run in ``folder``: its running jobs stop in place, or (``soft``) finish."""
    run = _live_run(folder, "pause")
    if not soft and not run.owner["stops_in_place"]:
        raise UsageError(
            f"the run in {folder} cannot stop its jobs in place (its workers are a Dask "
            "cluster's, which would take a stopped worker for dead); pass --soft to let the "
            "running jobs finish and start no new one"
        )
    mode = "finish" if soft else "stop"
    with folder_locked(folder):
        request = run.request()
        if request.pause == mode:
            raise UsageError(
                f"{run.machine} ({folder}) is paused by hand already, {_since(run.owner)}; "
                f"nothing changed (`splitter continue {folder}` goes on)"
            )
        write_control(folder, dataclasses.replace(request, pause=mode))
    in_place = mode == "stop"
    owner = _confirmed(run, lambda o: _paused(o).get("by_hand") is True and (
        _paused(o).get("in_place") == in_place
    ))  # fmt: skip
    if owner is None:
        return _unconfirmed(run, "pause")
    jobs = "its running jobs stop in place" if _paused(owner)["in_place"] else (
        "its running jobs finish, and no new one starts"
    )  # fmt: skip
    return f"{run.machine} paused {_since(owner)}: {jobs}; `splitter continue {folder}` goes on"


def continue_run(folder: Path) -> str:
    """End a pause by hand of the run in ``folder``."""
    run = _live_run(folder, "continue")
    with folder_locked(folder):
        request = run.request()
        if request.pause is None:
            paused = _paused(run.owner)
            if paused:
                raise UsageError(
                    f"{run.machine} ({folder}) is paused by its [owner] policy "
                    f"({paused['reason']}), not by hand; it continues by itself once that "
                    "clears, or change [owner] in its splitter.ini and run it again"
                )
            raise UsageError(f"{run.machine} ({folder}) is not paused; nothing changed")
        write_control(folder, dataclasses.replace(request, pause=None))
    since = _paused(run.owner).get("since")
    owner = _confirmed(run, lambda o: not _paused(o).get("by_hand"))
    if owner is None:
        return _unconfirmed(run, "continue")
    if _paused(owner):
        return (
            f"{run.machine} is no longer paused by hand, but its [owner] policy keeps it "
            f"paused ({_paused(owner)['reason']}); it continues by itself once that clears"
        )
    took = f" after {format_seconds(time.time() - since)} paused" if since else ""
    return f"{run.machine} continues{took}"


def set_workers(folder: Path, count: int) -> str:
    """Let the run in ``folder`` run at most ``count`` jobs at once from now on."""
    run = _live_run(folder, "change the workers of")
    most = run.owner["most_workers"]
    if most is None:
        raise UsageError(
            f"the run in {folder} runs on Dask, whose workers are its concurrency; start or "
            "stop `dask worker` processes instead"
        )
    if not 1 <= count <= most:
        raise UsageError(
            f"workers {count} is out of range for {run.machine}: give 1 to {most} "
            "(this machine's CPUs, or the workers it started with if more)"
        )
    with folder_locked(folder):
        request = run.request()
        was = request.workers or run.owner["workers"]
        if count == was:
            raise UsageError(
                f"{run.machine} ({folder}) runs at most {count} jobs at once already; "
                "nothing changed"
            )
        write_control(folder, dataclasses.replace(request, workers=count))
    owner = _confirmed(run, lambda o: o.get("workers") == count)
    if owner is None:
        return _unconfirmed(run, f"run {count} jobs at once")
    jobs = "1 job" if count == 1 else f"{count} jobs"
    when = "when it continues" if _paused(owner) else "from now"
    return f"{run.machine} runs at most {jobs} at once {when} (it ran {was})"


def _live_run(folder: Path, verb: str) -> _LiveRun:
    """The run running in ``folder`` now, or one sentence saying why there is none."""
    if not (folder / MANIFEST_NAME).is_file():
        raise UsageError(
            f"{folder} is not a run's folder (it has no {MANIFEST_NAME}); pass the folder "
            "`run` writes, OUT/<machine>"
        )
    data = read_manifest(folder)
    machine, state = str(data.get("machine", folder.name)), data.get("state")
    if state == "finished":
        raise UsageError(f"the run in {folder} has finished; there is nothing to {verb}")
    if state != "running" or not probe_lock(folder).held:
        raise UsageError(
            f"no run is running in {folder} (it was stopped; its manifest says {state!r}); "
            f"there is nothing to {verb} until `run` resumes it"
        )
    owner = data.get("owner")
    if not isinstance(owner, dict) or "run" not in owner:
        raise UsageError(
            f"the run in {folder} was started by a splitter without pause and workers "
            f"({_version(data)}); stop it and run it again with this one to steer it"
        )
    if "most_workers" not in owner:
        raise UsageError(f"the run in {folder} is starting; try again in a second")
    return _LiveRun(folder, machine, owner)


def _confirmed(run: _LiveRun, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The run's ``owner`` once ``done`` holds for it, or None if it did not within a while."""
    deadline = time.monotonic() + ACK_SECONDS
    while time.monotonic() < deadline:
        owner = read_manifest(run.folder).get("owner")
        if isinstance(owner, dict) and owner.get("run") == run.owner["run"] and done(owner):
            return owner
        time.sleep(0.05)
    return None


def _unconfirmed(run: _LiveRun, what: str) -> str:
    return (
        f"asked {run.machine} to {what}, but it has not confirmed within {ACK_SECONDS:g}s; "
        f"`splitter status {run.folder}` shows whether it still runs"
    )


def _paused(owner: dict[str, Any]) -> dict[str, Any]:
    paused = owner.get("paused")
    return paused if isinstance(paused, dict) else {}


def _since(owner: dict[str, Any]) -> str:
    paused = _paused(owner)
    since = paused.get("since")
    if not isinstance(since, int | float):
        return "since a moment ago (by hand)"
    clock = time.strftime("%H:%M", time.localtime(since))
    return f"since {clock} ({paused.get('reason', 'by hand')})"


def _version(data: dict[str, object]) -> str:
    versions = data.get("versions")
    found = versions.get("splitter") if isinstance(versions, dict) else None
    return f"version {found}" if isinstance(found, str) else "an older version"
