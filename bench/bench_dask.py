"""The Dask engine: makespan on unequal workers, and overhead on 1 ms jobs, side by side.

Makespan: a real `dask scheduler` and 4 `dask worker` processes (one thread
each), one of them 3x slower (SPLITTER_BENCH_SLOWDOWN=3 in its environment),
running jobs of 5-50 ms with `run --all --dask`. Ideal = total work / total
capacity (3 + 1/3 workers' worth); the static split's makespan is computed
from the plan's shares with 4 machines of equal declared perf (its slowest
share, the slow worker's, times 3). Makespans are first start to last end of
the results' rows.

Overhead: 1 ms busy jobs on 2 workers: `run --all --dask local:2` vs the
local engine (`--workers 2`) vs plain `client.map` on a LocalCluster of 2
single-threaded workers; each from its first job's start to its last job's
end (start-up apart: it is printed too, as whole-process seconds).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from splitter.store.results import ResultsReader

HERE = Path(__file__).parent / "entries"
MAKESPAN_JOBS = 1200
SLOWDOWNS = (1.0, 1.0, 1.0, 3.0)
OVERHEAD_JOBS = 4000
ROUNDS = 2
CONFIG = "[logging]\nlevel = INFO\n[run]\nnice = 0\n"


def _span_and_busy(results: Path) -> tuple[float, float]:
    """First start to last end of a results file's rows, and the sum of their durations."""
    starts, ends, busy = [], [], 0.0
    for row in ResultsReader(results):
        starts.append(float(row[3]))
        ends.append(float(row[3]) + float(row[4]))
        busy += float(row[4])
    return max(ends) - min(starts), busy


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _cluster(work: Path, slowdowns: tuple[float, ...]) -> Iterator[str]:
    """A scheduler and one single-threaded worker per slowdown factor, as processes."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], slowdown: float = 1.0) -> None:
        env = {**os.environ, "SPLITTER_BENCH_SLOWDOWN": str(slowdown)}
        started.append(subprocess.Popen(
            [sys.executable, "-m", "dask", *argv], cwd=work, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        ))  # fmt: skip

    try:
        port = address.rsplit(":", 1)[1]
        start(["scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"])
        for slowdown in slowdowns:
            start(["worker", address, "--nthreads", "1", "--no-dashboard"], slowdown)
        with Client(address, timeout=60) as client:
            client.wait_for_workers(len(slowdowns), timeout=60)
        yield address
    finally:
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _static_makespan(work: Path, size: int) -> float:
    """The slowest share's work when 4 machines of equal declared perf split the pool."""
    sys.path.insert(0, str(HERE))
    from dask_main import durations

    from splitter.campaign.load import load_campaign, locate_configs
    from splitter.campaign.plan import share_jobs

    work_ms = durations(size)
    campaign = load_campaign(locate_configs(work / "configs"), work_ms)
    names = [share.machine.name for share in campaign.plan.shares]
    spans = []
    for name, slowdown in zip(names, SLOWDOWNS, strict=True):
        ids = share_jobs(campaign.plan, campaign.plan.share_for(name)).tolist()
        spans.append(sum(work_ms[i] for i in ids) / 1000 * slowdown)
    return max(spans)


def makespan(work: Path) -> None:
    """Print the Dask and static makespans over the ideal one."""
    sys.path.insert(0, str(HERE))
    from dask_main import durations

    machines = ", ".join(f'"w{i}": [1.0, 1]' for i in range(len(SLOWDOWNS)))
    (work / "configs" / "machines.json").write_text("{" + machines + "}")
    total = sum(durations(MAKESPAN_JOBS)) / 1000
    ideal = total / sum(1 / s for s in SLOWDOWNS)
    with _cluster(work, SLOWDOWNS) as address:
        out = work / "makespan"
        argv = [sys.executable, str(HERE / "dask_main.py"), str(MAKESPAN_JOBS), "run", "--all"]
        subprocess.run(
            [*argv, "--yes", "--dask", address, "--out", str(out)], cwd=work, check=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    dask, busy = _span_and_busy(out / "all" / "results.csv.zst")
    # Sleeps overrun on a loaded machine: the busy time the workers really
    # spent, spread evenly over them, is the makespan of a perfect balance.
    balanced = busy / len(SLOWDOWNS)
    static = _static_makespan(work, MAKESPAN_JOBS)
    print(
        f"{MAKESPAN_JOBS} jobs of 5-50 ms ({total:.1f} s of work) on 4 workers, one 3x slower: "
        f"ideal {ideal:.2f} s  dask {dask:.2f} s = {dask / ideal:.3f}x ideal "
        f"({dask / balanced:.3f}x the measured busy time / 4 workers)  "
        f"static split {static:.2f} s = {static / ideal:.3f}x ideal"
    )


def _run_splitter(work: Path, *engine: str) -> tuple[float, float, float]:
    """First job to last, the whole process, and the mean job's seconds."""
    out = work / f"out-{time.monotonic_ns()}"
    argv = [sys.executable, str(HERE / "splitter_main.py"), "1ms", str(OVERHEAD_JOBS), "run"]
    began = time.perf_counter()
    subprocess.run(
        [*argv, "--all", "--yes", *engine, "--out", str(out)], cwd=work, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    whole = time.perf_counter() - began
    span, busy = _span_and_busy(out / "all" / "results.csv.zst")
    return span, whole, busy / OVERHEAD_JOBS


def _client_map() -> tuple[float, float]:
    from distributed import Client, LocalCluster

    sys.path.insert(0, str(HERE))
    from workloads import one_ms

    began = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        first = time.perf_counter()
        client.gather(client.map(one_ms, range(OVERHEAD_JOBS)))
        span = time.perf_counter() - first
    return span, time.perf_counter() - began


def overhead(work: Path) -> None:
    """Print the three ways of running 1 ms jobs on 2 workers, medians of ROUNDS rounds."""
    (work / "configs" / "machines.json").write_text('{"bench": [1.0, 2]}')
    local, dask, plain = [], [], []
    for _ in range(ROUNDS):
        local.append(_run_splitter(work, "--workers", "2"))
        dask.append(_run_splitter(work, "--dask", "local:2"))
        plain.append(_client_map())
    (l_span, l_all), (d_span, d_all), (p_span, p_all) = (
        (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for runs in (local, dask, plain)
    )
    l_job, d_job = (statistics.median(r[2] for r in runs) * 1000 for runs in (local, dask))
    print(
        f"{OVERHEAD_JOBS} x 1 ms on 2 workers, first job to last (whole process): "
        f"local {l_span:.2f} s ({l_all:.2f} s)  --dask local:2 {d_span:.2f} s ({d_all:.2f} s)  "
        f"client.map {p_span:.2f} s ({p_all:.2f} s)  dask/local {d_span / l_span:.2f}x  "
        f"dask/client.map {d_span / p_span:.2f}x; the mean job took {l_job:.3f} ms locally, "
        f"{d_job:.3f} ms on Dask (its scheduler and client share the cores)"
    )


def main() -> None:
    """Print both comparisons (skipped without the dask extra)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("skipped: dask is not installed (pip install 'splitter[dask]')")
        return
    print("goals: dask makespan <= 1.05x ideal; 1 ms jobs within 1.1x of local, < client.map")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "configs").mkdir()
        (work / "configs" / "splitter.ini").write_text(CONFIG)
        makespan(work)
        overhead(work)


if __name__ == "__main__":
    main()
