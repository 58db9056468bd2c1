"""The Slurm script of a task file with barriers: one array per phase, chained.

    phase 1 array --after(ok|any)--> merge into OUT/phase-1 --afterok--> phase 2 array
        (its tasks run `run --after OUT/phase-1`) --> merge into OUT/phase-2 --> ...

A barrier is a phase boundary of a static split (`splitter.merge.after`), so
the phases become Slurm arrays that wait for each other with
``--dependency``: after a ``BARRIER CHECK`` the merge waits ``afterok`` on the
array (a task exits 1 when one of its jobs failed, so the chain stops
there); after a plain barrier ``afterany`` (failures do not hold the next
phase). The next array waits ``afterok`` on the merge, which exits 0 once
its phase is complete, else 4. The script is run with ``bash``, not
``sbatch``: it submits them all and prints their job ids.
"""

from __future__ import annotations

import shlex

from splitter.run.slurm_script import ArrayScript, render_script

__all__ = ["render_phased"]

_END = "SPLITTER_ARRAY"


def render_phased(script: ArrayScript) -> str:
    """The driver script submitting one array per phase of ``script``, each after the last."""
    count = len(script.phases)
    quote = shlex.quote
    out = quote(str(script.out))
    merge = f"{shlex.join(script.command)} merge {out}/task-* --out {out}/phase-$1 --force"
    lines = [
        "#!/bin/bash",
        f"# A Slurm campaign of {count} phases (a task file with barriers) for splitter:",
        f"# one job array of {script.tasks} tasks per phase, each after the merge of the last.",
        "# Run it with `bash THIS_FILE` (not sbatch): it submits every array and merge.",
        "# After a BARRIER CHECK the merge waits for the whole array to succeed (afterok),",
        "# so a failed job stops the chain there; after a plain barrier it waits for the",
        "# array to end (afterany). Each phase's merge is OUT/phase-<k>.",
        "set -euo pipefail",
        "",
        "array() {  # the array of one phase; its tasks read SPLITTER_AFTER",
        f"    sbatch --parsable \"$@\" <<'{_END}'",
        render_script(script).rstrip("\n"),
        _END,
        "}",
        "",
        "merge() {  # the merge of phase $1, after the array $2 ended ($3: afterok or afterany)",
        f"    sbatch --parsable --job-name={quote(script.job_name + '-merge')} \\",
        f"        --chdir={quote(str(script.workdir))} \\",
        f"        --output={quote(str(script.logs / 'slurm-%j.log'))} \\",
        f'        --dependency="$3:$2" --wrap="{merge}"',
        "}",
        "",
        "job=$(array --export=ALL,SPLITTER_AFTER=)",
        'echo "phase 1: array $job"',
    ]
    for phase in range(1, count):
        wait = "afterok" if script.phases[phase] else "afterany"
        merged = f"{script.out}/phase-{phase}"
        lines += [
            f'merged=$(merge {phase} "$job" {wait})',
            f'echo "phase {phase}: merge $merged into {merged}"',
            f"job=$(array --dependency=afterok:$merged"
            f" --export=ALL,SPLITTER_AFTER={quote(merged)})",
            f'echo "phase {phase + 1}: array $job"',
        ]
    lines += [
        f'merged=$(merge {count} "$job" afterany)',
        f'echo "the campaign\'s merge: $merged, into {script.out}/phase-{count}"',
        "",
    ]
    return "\n".join(lines)
