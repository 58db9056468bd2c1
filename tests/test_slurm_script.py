"""Tests for splitter.run.slurm_script: the sbatch array script and how a task starts ENTRY."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitter.campaign.needs import Needs
from splitter.errors import UsageError
from splitter.run.slurm_script import (
    ArrayScript,
    TaskResources,
    entry_command,
    render_script,
    task_resources,
    tasks_command,
)

DIGEST = bytes(range(32))
HEX = DIGEST.hex()


def script(**changes: object) -> ArrayScript:
    """A script for /work/main.py, three tasks, run by /venv/bin/python."""
    fields: dict[str, object] = {
        "command": ("/venv/bin/python", "/work/main.py"),
        "tasks": 3,
        "digest": DIGEST,
        "workdir": Path("/work"),
        "out": Path("/work/results"),
        "logs": Path("/work/slurm-logs"),
        "job_name": "main",
        **changes,
    }
    return ArrayScript(**fields)  # type: ignore[arg-type]


def test_the_script_of_three_tasks_reads_as_written() -> None:
    assert render_script(script()).split("\n") == [
        "#!/bin/bash",
        "# A Slurm job array of 3 tasks for splitter: each task is one machine",
        "# of the plan, task-0 ... task-2, running its equal share of the job pool.",
        "#   digest   0001 0203 0405 0607  (plan --slurm-array 3)",
        "#   results  /work/results/task-<k>, one folder per task",
        "#   logs     /work/slurm-logs/slurm-<job id>_<task>.log",
        "# Submit with `sbatch THIS_FILE`; when all tasks are done, merge their folders:",
        "#   /venv/bin/python /work/main.py merge /work/results/task-* --out merged",
        "# A requeued task (scontrol requeue, preemption, node failure) resumes its folder.",
        "# Rerun some tasks alone with `sbatch --array=K,L THIS_FILE`: each resumes its folder.",
        "# Another --array size is another plan: print a new script for it, do not edit it.",
        "#SBATCH --job-name=main",
        "#SBATCH --array=0-2",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --chdir=/work",
        "#SBATCH --output=/work/slurm-logs/slurm-%A_%a.log",
        "#SBATCH --open-mode=append",
        "#SBATCH --requeue",
        "",
        "set -euo pipefail",
        "# exec: Slurm's signals (cancel, time limit) reach the run itself.",
        "exec /venv/bin/python /work/main.py run --slurm-array 3 \\",
        f"    --expect-digest {HEX} \\",
        "    --out /work/results",
        "",
    ]


def test_a_time_limit_comes_with_a_sigint_ahead_of_it() -> None:
    lines = render_script(script(time="2:00:00", partition="short")).split("\n")
    assert lines[14:17] == [
        "#SBATCH --time=2:00:00",
        "#SBATCH --signal=B:INT@120",
        "#SBATCH --partition=short",
    ]


def test_configs_and_paths_with_spaces_are_quoted_for_the_shell() -> None:
    text = render_script(
        script(configs=Path("/my work/configs"), out=Path("/my work/out"), command=("/bin/sweep",))
    )
    assert "exec /bin/sweep run --slurm-array 3 \\\n" in text
    assert "    --configs '/my work/configs' \\\n    --out '/my work/out'\n" in text


def test_an_array_of_one_task_says_so() -> None:
    text = render_script(script(tasks=1))
    assert "# of the plan, task-0, running its equal share of the job pool." in text
    assert "#SBATCH --array=0-0\n" in text


def test_every_sbatch_line_comes_before_the_first_command() -> None:
    # sbatch stops reading #SBATCH lines at the first line that is not a comment.
    lines = render_script(script(time="1:00", partition="p")).split("\n")
    first_command = next(i for i, line in enumerate(lines) if line and not line.startswith("#"))
    assert max(i for i, line in enumerate(lines) if line.startswith("#SBATCH")) < first_command


def test_a_frozen_binary_runs_itself() -> None:
    command = entry_command(Path("/bin/sweep"), b"\x7fELF", None, True, "/bin/splitter")
    assert command == ("/bin/sweep",)


def test_a_script_runs_under_the_interpreter_running_now() -> None:
    command = entry_command(Path("/w/main.py"), b"impo", None, False, "/venv/bin/python")
    assert command == ("/venv/bin/python", "/w/main.py")


def test_python_names_the_interpreter_of_a_script() -> None:
    command = entry_command(Path("/w/main.py"), b"#!/u", "/opt/py/bin/python3", True, "/x")
    assert command == ("/opt/py/bin/python3", "/w/main.py")


def test_a_frozen_splitter_cannot_run_a_script_without_python() -> None:
    with pytest.raises(UsageError) as caught:
        entry_command(Path("/w/main.py"), b"impo", None, True, "/bin/splitter")
    assert str(caught.value) == (
        "/w/main.py is a Python script, which this frozen splitter cannot run; pass --python "
        "PATH (an interpreter with splitter installed, as the nodes see it), or build the "
        "script into a binary with `make exe ENTRY=main.py` and pass that"
    )


GIB = 2**30


def test_task_resources_without_needs_are_the_cpus_asked_for() -> None:
    assert task_resources([Needs()], 4) == TaskResources(cpus=4)
    assert task_resources([], 1) == TaskResources(cpus=1)


def test_each_task_holds_the_most_any_kind_needs() -> None:
    kinds = [Needs(cores=8), Needs(cores=2, gpus=1, mem=4 * GIB), Needs(mem=GIB)]
    # 8 cpus: 8 one-core jobs at once need 8 GiB; the GPU jobs run one at a time.
    assert task_resources(kinds, 2) == TaskResources(cpus=8, gpus=1, mem=8 * GIB)


def test_gres_and_mem_come_with_the_reason_in_the_script() -> None:
    lines = render_script(script(cpus=8, gpus=2, mem=12 * GIB + 1)).split("\n")
    assert lines[11:15] == [
        "# Every task asks for the most any kind of job needs: the tasks are the equal",
        "# machines of one plan, each running a share of every kind, so each must hold",
        "# every kind (one array per kind would be one plan per kind, each with its own",
        "# digest and merge). --mem is enough for as many jobs as its cpus and GPUs run at once.",
    ]
    assert lines[17:20] == [
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --mem=12289M",
    ]


def test_mem_in_whole_gibibytes_is_written_in_g() -> None:
    assert "#SBATCH --mem=8G\n" in render_script(script(mem=8 * GIB))


def test_a_task_file_array_runs_splitter_on_it_in_every_task() -> None:
    text = render_script(
        script(command=("/venv/bin/python", "-m", "splitter"), task_file=Path("/work/t.txt"))
    )
    assert "#   tasks    /work/t.txt\n" in text
    assert text.endswith(
        "exec /venv/bin/python -m splitter run --slurm-array 3 \\\n    --tasks /work/t.txt \\\n"
        f"    --expect-digest {HEX} \\\n    --out /work/results\n"
    )


def test_a_task_file_runs_under_python_m_splitter_or_this_binary_or_a_given_one() -> None:
    assert tasks_command(None, b"", None, False, "/venv/bin/python") == (
        "/venv/bin/python", "-m", "splitter",
    )  # fmt: skip
    assert tasks_command(None, b"", None, True, "/bin/splitter") == ("/bin/splitter",)
    assert tasks_command(Path("/opt/splitter"), b"\x7fELF", None, False, "/x") == (
        "/opt/splitter",
    )


def test_a_task_file_refuses_an_entry_that_is_no_binary() -> None:
    with pytest.raises(UsageError) as caught:
        tasks_command(Path("/w/main.py"), b"impo", None, False, "/venv/bin/python")
    assert str(caught.value) == (
        "with --tasks, ENTRY is the splitter binary that runs them, and /w/main.py is not a "
        "binary; leave ENTRY out to run them with this splitter"
    )


def test_the_phases_of_a_task_file_are_arrays_chained_through_their_merges() -> None:
    from splitter.run.slurm_phases import render_phased

    phased = script(
        command=("/venv/bin/python", "-m", "splitter"), task_file=Path("/work/t.txt"),
        phases=(False, False, True),
    )  # fmt: skip
    text = render_phased(phased)
    assert text.startswith("#!/bin/bash\n# A Slurm campaign of 3 phases")
    assert '${SPLITTER_AFTER:+--after "$SPLITTER_AFTER"}\nSPLITTER_ARRAY\n' in text
    chain = text[text.index("job=$(array --export") :].splitlines()
    assert chain == [
        "job=$(array --export=ALL,SPLITTER_AFTER=)",
        'echo "phase 1: array $job"',
        'merged=$(merge 1 "$job" afterany)',
        'echo "phase 1: merge $merged into /work/results/phase-1"',
        "job=$(array --dependency=afterok:$merged"
        " --export=ALL,SPLITTER_AFTER=/work/results/phase-1)",
        'echo "phase 2: array $job"',
        'merged=$(merge 2 "$job" afterok)',
        'echo "phase 2: merge $merged into /work/results/phase-2"',
        "job=$(array --dependency=afterok:$merged"
        " --export=ALL,SPLITTER_AFTER=/work/results/phase-2)",
        'echo "phase 3: array $job"',
        'merged=$(merge 3 "$job" afterany)',
        'echo "the campaign\'s merge: $merged, into /work/results/phase-3"',
    ]
    assert (
        '--wrap="/venv/bin/python -m splitter merge /work/results/task-* --out'
        ' /work/results/phase-$1 --force"'
    ) in text
