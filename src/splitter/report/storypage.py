"""The page's account of the campaign: lost hosts and their rescue, missing jobs by owner, runs.

Pure text assembly from a `Story`; every name, path and reason is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitter.report.hosts import Pause
from splitter.report.html import e, ids, n, note, s, table, utc
from splitter.report.schema import MergeReport
from splitter.report.story import LostHost, MissingOwner, Rescuer, RunBlock, Story

__all__ = ["story_html"]


def story_html(story: Story, report: MergeReport) -> str:
    """The section's content: lost hosts, rescues, missing jobs, then the runs and pauses."""
    parts = [_lost(host) for host in story.lost]
    parts += [_rescuer(rescuer) for rescuer in story.rescuers]
    if story.missing:
        parts.append(_missing(story.missing))
    elif report.missing and report.missing_by_machine is None:
        parts.append(note(
            "This report.json does not say which machine owned the missing jobs (a merge"
            " before missing_by_machine)."
        ))  # fmt: skip
    if story.blocks:
        parts.append(_runs(story.blocks))
    else:
        parts.append(note(
            "No input folder's manifest.json is at hand (report.json names them), so the"
            " runs of each host are not shown."
        ))  # fmt: skip
    if story.pauses:
        parts.append(_pauses(story.pauses))
    return "\n".join(parts)


def _lost(host: LostHost) -> str:
    source = f"the partial merge <code>{e(host.report)}</code>"
    if not host.machine:
        whose = f"{source} listed {n(len(host.owned))} jobs as missing without saying whose"
    elif host.had_folder:
        whose = (
            f'<b class="bad">{e(host.machine)}</b> stopped before its share was done:'
            f" {source} listed {n(len(host.owned))} of its jobs as missing"
        )
    else:
        whose = (
            f'<b class="bad">{e(host.machine)}</b> was lost: {source} had no folder of it and'
            f" listed {n(len(host.owned))} of its jobs as missing"
        )
    rescued = ", ".join(f"{e(machine)} ({n(count)})" for machine, count in host.rescued_by)
    text = f"<p>{whose} (job ids {ids(host.owned)})."
    if rescued:
        text += f" They were rescued by {rescued}."
    if host.still_missing:
        text += f' <span class="bad">{n(host.still_missing)} of them have no row yet.</span>'
    return text + "</p>"


def _rescuer(rescuer: Rescuer) -> str:
    source = (
        f"the jobs <code>{e(rescuer.report)}</code> listed as missing"
        if rescuer.report is not None
        else "the missing jobs of a partial merge (its manifest is not at hand to say which)"
    )
    return (
        f"<p>{e(rescuer.machine)} rescued {source} in <code>{e(rescuer.folder)}</code>"
        f" ({n(rescuer.rows)} rows).</p>"
    )


def _missing(owners: Sequence[MissingOwner]) -> str:
    rows = [
        [e(owner.machine), n(len(owner.ids)), e(ids(owner.ids, 10)),
         e(f"merged ({owner.state or 'state unknown'})") if owner.has_folder
         else '<span class="bad">no folder merged: lost?</span>']
        for owner in owners
    ]  # fmt: skip
    head = ["machine", "missing jobs", "job ids", "its folder"]
    return "<p>The missing jobs by the machine that owned them:</p>" + table(head, rows, {1})


def _runs(blocks: Sequence[RunBlock]) -> str:
    rows = [
        [e(block.machine), e(block.folder), e(block.kind), e(utc(block.start)),
         s(block.wall_seconds), n(block.jobs_done), n(block.workers), e(block.state)]
        for block in blocks
    ]  # fmt: skip
    head = ["machine", "folder", "run", "started", "run time", "jobs run", "workers",
            "folder's state"]  # fmt: skip
    return "<p>The runs, first started first:</p>" + table(head, rows, {4, 5, 6})


def _pauses(pauses: Sequence[tuple[str, Pause]]) -> str:
    rows = [
        [e(machine), e(utc(pause.start)), "still paused" if pause.end is None
         else e(s(pause.end - pause.start)), e(pause.reason)]
        for machine, pause in pauses
    ]  # fmt: skip
    head = ["machine", "paused at", "for", "reason"]
    return "<p>Pauses (hatched on the timeline):</p>" + table(head, rows, set())
