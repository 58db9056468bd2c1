"""End-to-end: task files as disBatch users write them, through the real `splitter run --tasks`.

Each test that runs tasks runs on the local pool and on a real Dask cluster
(`--dask local:2`, skipped where Dask is not installed).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_module
from test_run_e2e import log_text
from test_tasks_e2e import campaign, rows, run_tasks

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="shell tasks are POSIX")

# The shape of disBatch's own examples (the PREFIX ends in a space).
DISBATCH_FILE = """\
#DISBATCH PREFIX cd outdir ;\x20
#DISBATCH SUFFIX &> ${DISBATCH_NAMETASKS}_task_${DISBATCH_TASKID}.log
echo plain $DISBATCH_STREAM_INDEX $DISBATCH_REPEAT_INDEX $DISBATCH_TASKID_ZP
#DISBATCH REPEAT 3 start 10 step 5 echo rep $DISBATCH_REPEAT_INDEX $DISBATCH_STREAM_INDEX
sh -c 'echo last; exit 3'
"""


@pytest.fixture(params=["local", "dask"])
def engine(request: pytest.FixtureRequest) -> list[str]:
    """The run options of an engine: none for the local pool, a local Dask cluster."""
    if request.param == "local":
        return []
    pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")
    return ["--dask", "local:2"]


def test_prefix_and_suffix_redirect_each_task_into_its_log_in_a_folder(
    tmp_path: Path, engine: list[str]
) -> None:
    work = campaign(tmp_path, DISBATCH_FILE)
    (work / "outdir").mkdir()
    ran = run_tasks(work, "--all", *engine, timeout=120)

    assert ran.returncode == 1, ran.stderr
    logs = {path.name: path.read_text() for path in (work / "outdir").iterdir()}
    assert logs == {
        "tasks.txt_task_0.log": "plain 3 -1 000000\n",
        "tasks.txt_task_1.log": "rep 10 4\n",
        "tasks.txt_task_2.log": "rep 15 4\n",
        "tasks.txt_task_3.log": "rep 20 4\n",
        "tasks.txt_task_4.log": "last\n",
    }
    found = rows(work / "results" / "all")
    assert [found[j]["status"] for j in range(5)] == ["ok", "ok", "ok", "ok", "error"]
    assert found[4]["command"] == (
        "cd outdir ; sh -c 'echo last; exit 3'&> ${DISBATCH_NAMETASKS}_task_${DISBATCH_TASKID}.log"
    )


def test_task_rows_carry_line_repeat_index_task_id_host_and_pid(
    tmp_path: Path, engine: list[str]
) -> None:
    text = "#DISBATCH REPEAT 2 start 7 echo $$ > pid.$DISBATCH_TASKID\n# c\necho hi\n"
    work = campaign(tmp_path, text)
    assert run_tasks(work, "--all", *engine, timeout=120).returncode == 0
    found = rows(work / "results" / "all")
    columns = ("exit_code", "line", "repeat_index", "task_id", "host", "out_bytes", "err_bytes")
    assert [tuple(found[j][c] for c in columns) for j in range(3)] == [
        ("0", "1", "7", "0", socket.gethostname(), "0", "0"),
        ("0", "1", "8", "1", socket.gethostname(), "0", "0"),
        ("0", "3", "-1", "2", socket.gethostname(), "3", "0"),
    ]
    for job in (0, 1):
        assert found[job]["pid"] == (work / f"pid.{job}").read_text().strip()


def test_perengine_commands_run_once_before_the_first_task_and_after_the_last(
    tmp_path: Path, engine: list[str]
) -> None:
    text = (
        "#DISBATCH PERENGINE START echo up $DISBATCH_CYLINDER_RANK >> starts.txt\n"
        "#DISBATCH PERENGINE STOP ls done.* | wc -l > stopped.txt\n"
        "#DISBATCH REPEAT 6 test -e starts.txt && touch done.$DISBATCH_TASKID\n"
    )
    work = campaign(tmp_path, text)
    ran = run_tasks(work, "--all", *engine, timeout=120)

    assert ran.returncode == 0, ran.stderr
    assert (work / "starts.txt").read_text() == "up -1\n"
    assert (work / "stopped.txt").read_text().strip() == "6"


def test_a_failing_perengine_start_is_logged_and_the_tasks_run_all_the_same(
    tmp_path: Path,
) -> None:
    work = campaign(tmp_path, "#DISBATCH PERENGINE START echo no >&2; exit 4\ntrue\n")
    assert run_tasks(work, "--all").returncode == 0
    log = log_text(work / "results" / "all")
    assert "PERENGINE START of line 1 err: no\n" in log
    assert "PERENGINE START of line 1 exited with code 4; the tasks run all the same" in log


def test_an_unknown_directive_exits_2_naming_its_line_and_runs_nothing(tmp_path: Path) -> None:
    work = campaign(tmp_path, "touch ran\n#DISBATCH PREFX cd x ;\ntouch ran2\n")
    ran = run_tasks(work, "--all")

    assert ran.returncode == 2
    assert ran.stderr.strip().splitlines() == [
        "splitter: error: task file tasks.txt: line 2: '#DISBATCH PREFX cd x ;' is not a "
        "directive splitter knows (known: PREFIX, SUFFIX, REPEAT, BARRIER [CHECK], PERENGINE "
        "START|STOP); fix it, or write '# ' to make the line a comment"
    ]
    assert not (work / "ran").exists() and not (work / "results").exists()


def test_a_task_file_on_standard_input_runs_and_is_named_stdin(
    tmp_path: Path, engine: list[str]
) -> None:
    work = campaign(tmp_path, "")
    ran = run_module(
        ["run", "--tasks", "-", "--yes", "--all", *engine], work,
        input="echo $DISBATCH_NAMETASKS > name.txt\n#DISBATCH REPEAT 2 true\n", timeout=120,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr
    assert (work / "name.txt").read_text() == "stdin\n"
    assert sorted(rows(work / "results" / "all")) == [0, 1, 2]


def test_a_latin1_file_runs_byte_for_byte_and_shows_its_bytes_escaped(tmp_path: Path) -> None:
    work = campaign(tmp_path, "")
    (work / "tasks.txt").write_bytes("printf %s café > caf\xe9.txt\n".encode("latin-1"))
    ran = run_tasks(work, "--all")

    assert ran.returncode == 0, ran.stderr
    assert (work / "caf\udce9.txt").read_bytes() == "café".encode("latin-1")
    assert rows(work / "results" / "all")[0]["command"] == "printf %s caf\\xe9 > caf\\xe9.txt"


@pytest.mark.parametrize("content", ["", "# nothing\n\n", "#DISBATCH PREFIX cd x ; \n# c\n"])
def test_a_file_without_tasks_says_no_tasks_to_run_and_exits_0(
    tmp_path: Path, content: str
) -> None:
    work = campaign(tmp_path, content)
    for command in (["run", "--yes", "--all"], ["plan"], ["digest"]):
        ran = run_module([command[0], "--tasks", "tasks.txt", *command[1:]], work)
        assert (ran.returncode, ran.stdout) == (0, "")
        assert ran.stderr == (
            "no tasks to run: tasks.txt holds only comments, blank lines and directives\n"
        )
    assert not (work / "results").exists()


def test_without_configs_a_task_file_runs_here_as_one_machine_and_says_so(
    tmp_path: Path,
) -> None:
    (tmp_path / "tasks.txt").write_text("echo $SPLITTER_MACHINE > m.txt\ntrue\n")
    ran = run_module(["run", "--tasks", "tasks.txt"], tmp_path)

    assert ran.returncode == 0, ran.stderr
    name = (tmp_path / "m.txt").read_text().strip()
    assert ran.stderr.splitlines()[0].startswith(
        f"no configs folder: running the tasks here as one machine, {name}, on "
    )
    assert sorted(rows(tmp_path / "results" / name)) == [0, 1]
    plan = run_module(["plan", "--tasks", "tasks.txt", "--json"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert (planned["total"], [m["name"] for m in planned["machines"]]) == (2, [name])
    assert run_module(["digest", "--tasks", "tasks.txt"], tmp_path).returncode == 0


def test_the_status_file_of_a_small_campaign_has_disbatch_fields(tmp_path: Path) -> None:
    work = campaign(tmp_path, "echo out\n#DISBATCH BARRIER\n#DISBATCH REPEAT 2 start 3 exit 2\n")
    assert run_tasks(work, "--all").returncode == 1
    merged = run_module(
        ["merge", "results/all", "--out", "merged", "--status-file", "status.txt"], work
    )
    assert merged.returncode == 0, merged.stderr

    lines = (work / "status.txt").read_text().splitlines()
    fields = [line.split("\t") for line in lines]
    assert [len(f) for f in fields] == [15, 15, 15]
    keep = (0, 1, 2, 3, 4, 6, 10, 11, 12, 13, 14)
    assert [[f[i] for i in keep] for f in fields] == [
        [" O  ", "0", "1", "-1", socket.gethostname(), "0", "4", "''", "0", "''", "echo out"],
        ["R   ", "2", "3", "3", socket.gethostname(), "2", "0", "''", "0", "''", "exit 2"],
        ["R   ", "3", "3", "4", socket.gethostname(), "2", "0", "''", "0", "''", "exit 2"],
    ]
    for f in fields:
        assert int(f[5]) > 0
        assert float(f[9]) - float(f[8]) == pytest.approx(float(f[7]), abs=0.002)


def test_a_timed_out_task_keeps_its_command_its_code_and_its_output_up_to_the_kill(
    tmp_path: Path, engine: list[str]
) -> None:
    work = campaign(
        tmp_path, "echo before the kill; sleep 60\n", "[run]\nnice = 0\njob_timeout = 2\n"
    )
    ran = run_tasks(work, "--all", "--workers", "1", *engine, timeout=120)

    assert ran.returncode == 1
    row = rows(work / "results" / "all")[0]
    assert (row["status"], row["exit_code"], row["line"]) == ("timeout", "-9", "1")
    assert row["command"] == "echo before the kill; sleep 60"
    assert "job 0 out: before the kill\n" in log_text(work / "results" / "all")


def test_a_task_whose_worker_dies_is_crashed_with_its_command_and_code(tmp_path: Path) -> None:
    work = campaign(tmp_path, "true\nkill -9 $PPID; sleep 5\n")
    ran = run_tasks(work, "--all", "--workers", "1")

    assert ran.returncode == 1
    row = rows(work / "results" / "all")[1]
    assert (row["status"], row["exit_code"], row["command"]) == (
        "crashed", "-9", "kill -9 $PPID; sleep 5",
    )  # fmt: skip
    assert (row["line"], row["host"]) == ("2", socket.gethostname())


def test_slurm_script_writes_an_array_script_for_a_task_file(tmp_path: Path) -> None:
    work = campaign(tmp_path, "#DISBATCH REPEAT 4 true\n")
    done = subprocess.run(
        [sys.executable, "-m", "splitter", "slurm-script", "--tasks", "tasks.txt", "--array", "2"],
        cwd=work, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    digest = run_module(["digest", "--full", "--slurm-array", "2", "--tasks", "tasks.txt"], work)
    assert f"exec {sys.executable} -m splitter run --slurm-array 2 \\\n" in done.stdout
    assert f"    --tasks {work / 'tasks.txt'} \\\n" in done.stdout
    assert f"--expect-digest {digest.stdout.strip()} \\\n" in done.stdout
    assert "#SBATCH --job-name=tasks\n" in done.stdout
