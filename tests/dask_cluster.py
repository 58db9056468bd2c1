"""A real Dask cluster for the tests: `dask scheduler` and `dask worker` processes.

Everything listens on 127.0.0.1 on free ports; every wait is bounded; every
process starts in its own session so the teardown (and a test that kills a
worker) ends it with its nanny and children. Workers start in a folder of
their own, where the test's entry script cannot be imported.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_SECONDS = 60


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DaskProcesses:
    """One scheduler and named workers, as separate processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.elsewhere = folder / "elsewhere"
        self.elsewhere.mkdir(parents=True, exist_ok=True)

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *argv], cwd=self.elsewhere, env=environment,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def start_scheduler(self) -> None:
        """Start `dask scheduler` and wait until it accepts connections."""
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"dask scheduler did not listen on {self.address}: {self.logs()}")

    def start_workers(self, *names: str, threads: int = 1, resources: str = "") -> None:
        """Start one `dask worker` per name (``resources`` as --resources) and wait for all."""
        for name in names:
            argv = ["worker", self.address, "--nthreads", str(threads), "--name", name]
            if resources:
                argv += ["--resources", resources]
            self.workers[name] = self._start(name, [*argv, "--no-dashboard"])
        if names:
            self.wait_for_workers(len(self.workers))

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=START_SECONDS) as client:
            client.wait_for_workers(count, timeout=START_SECONDS)

    def kill(self, name: str) -> None:
        """SIGKILL a worker (its nanny and its worker process)."""
        process = self.workers.pop(name) if name != "scheduler" else self.scheduler
        assert process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        """Kill everything that is still running."""
        for name in list(self.workers):
            self.kill(name)
        if self.scheduler is not None and self.scheduler.poll() is None:
            self.kill("scheduler")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.folder.glob("*.log"))


@contextlib.contextmanager
def dask_processes(folder: Path, *workers: str) -> Iterator[DaskProcesses]:
    """A started scheduler with ``workers``, always torn down."""
    pytest.importorskip("distributed", reason="dask not installed: pip install 'splitter[dask]'")
    cluster = DaskProcesses(folder)
    try:
        cluster.start_scheduler()
        cluster.start_workers(*workers)
        yield cluster
    finally:
        cluster.stop()
