"""End-to-end: jobs with needs on a real Dask cluster whose workers declare --resources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_configs
from dask_cluster import dask_processes
from splitter.store.results import ResultsReader

pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")

ENTRY = """\
import json
import time

import splitter


def job(index, kind, *, resources):
    from distributed import get_worker

    start = time.time()
    time.sleep(0.3)
    return {
        "kind": kind, "worker": get_worker().name, "gpus": ",".join(resources.gpus),
        "cores": resources.cores, "start": start, "end": time.time(),
    }


NEEDS = {"plain": {}, "gpu": {"gpus": 1}, "foam": {"tags": ["openfoam"]}, "wide": {"cores": 2}}

if __name__ == "__main__":
    kinds = json.loads(open("kinds.json").read())
    pool = [(index, kind) for index, kind in enumerate(kinds)]
    splitter.main(job, pool, needs=lambda item: NEEDS[item[1]])
"""


# The plan still checks machines.json (the digest covers it): one machine that holds every kind.
MACHINES = {"cluster": {"perf": 1.0, "cores": 2, "gpus": 1, "tags": ["openfoam"]}}


def run_on(address: str, folder: Path, kinds: list[str]) -> subprocess.CompletedProcess[str]:
    write_configs(folder / "configs", MACHINES)
    (folder / "main.py").write_text(ENTRY, encoding="utf-8")
    (folder / "kinds.json").write_text(json.dumps(kinds), encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if k != "SPLITTER_MACHINE"}
    return subprocess.run(
        [sys.executable, "main.py", "run", "--all", "--yes", "--dask", address],
        cwd=folder, env=environment, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip


def values(folder: Path) -> list[dict[str, str]]:
    reader = ResultsReader(folder / "results" / "all" / "results.csv.zst")
    rows = list(reader)
    header = reader.header
    return [dict(zip(header, row, strict=False)) for row in rows]


def test_gpu_and_tagged_jobs_run_only_on_workers_that_declare_them(tmp_path: Path) -> None:
    kinds = ["gpu", "plain", "foam", "gpu", "plain", "gpu"] * 3
    with dask_processes(tmp_path / "cluster") as cluster:
        cluster.start_workers("gpu-host", threads=2, resources="GPU=2,tag-openfoam=1")
        cluster.start_workers("cpu-host", threads=1)
        result = run_on(cluster.address, tmp_path, kinds)
    assert result.returncode == 0, result.stderr
    rows = values(tmp_path)
    assert len(rows) == len(kinds)
    assert all(row["status"] == "ok" for row in rows)
    for row in rows:
        if row["kind"] in ("gpu", "foam"):
            assert row["worker"] == "gpu-host"
        assert len(row["gpus"].split(",")) == 1 if row["kind"] == "gpu" else row["gpus"] == ""
    gpu_rows = [row for row in rows if row["kind"] == "gpu"]
    for a in gpu_rows:
        for b in gpu_rows:
            overlap = float(a["start"]) < float(b["end"]) and float(b["start"]) < float(a["end"])
            if a is not b and overlap:
                assert a["gpus"] != b["gpus"]


def test_a_kind_no_worker_declares_is_refused_with_exit_2(tmp_path: Path) -> None:
    with dask_processes(tmp_path / "cluster", "plain-host") as cluster:
        result = run_on(cluster.address, tmp_path, ["plain", "gpu", "plain"])
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "main.py: error: job 1 needs cores=1 gpus=1, but no worker of the Dask cluster "
        "declares the resources it asks for (GPU=1); start workers that have them, "
        'like `dask worker ADDRESS --resources "GPU=1"`'
    )


def test_cores_beyond_one_reserve_the_cores_workers_declare(tmp_path: Path) -> None:
    kinds = ["wide", "plain", "plain", "wide", "plain", "plain"]
    with dask_processes(tmp_path / "cluster") as cluster:
        cluster.start_workers("host", threads=2, resources="CORES=2")
        result = run_on(cluster.address, tmp_path, kinds)
    assert result.returncode == 0, result.stderr
    rows = values(tmp_path)
    for a in rows:
        running = [
            b for b in rows
            if float(b["start"]) <= float(a["start"]) < float(b["end"])
        ]  # fmt: skip
        assert sum(int(b["cores"]) for b in running) <= 2
