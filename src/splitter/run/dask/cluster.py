"""The connection to a Dask cluster: an address (or ``local[:N]``), a client, events.

Everything that imports ``distributed`` is here and in `task`, and only runs
once ``--dask`` was given: importing splitter never loads Dask. The engine
(`engine`) builds on this module, never the other way round; `factory` puts
the two together for the runner.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from splitter.errors import EXIT_INTERRUPTED, SplitterError, UsageError
from splitter.run.cpus import usable_cpus
from splitter.run.engine import JobSetup
from splitter.run.jobcall import one_line

__all__ = [
    "INSTALL_HINT",
    "Connection",
    "DaskCluster",
    "DaskLostError",
    "parse_address",
    "require_dask",
]

INSTALL_HINT = "pip install 'splitter[dask]'"
CONNECT_TIMEOUT = 10.0
# How long the client may try to reconnect before the run stops.
LOST_AFTER = 5.0
THREADS_REFRESH = 1.0
_LOCAL = re.compile(r"local(?::([0-9]{1,4}))?")
# A scheduler: tcp:// or tls://, or no scheme (Dask's default, tcp), then
# a host name, an IPv4 address or an [IPv6] address, and the port.
_REMOTE = re.compile(r"(?:(?:tcp|tls)://)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):([0-9]{1,5})")
_FORMS = (
    "tcp://HOST:PORT or tls://HOST:PORT (a scheduler, like tcp://10.0.0.5:8786), HOST:PORT,"
    " local (a cluster of this host's CPUs) or local:N (of N workers)"
)

Put = Callable[[str, Any], None]


class DaskLostError(SplitterError):
    """The scheduler (or the connection to it) is gone: the run stops; a rerun resumes."""

    exit_code = EXIT_INTERRUPTED


def require_dask() -> None:
    """Raise a UsageError naming the install command when ``distributed`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        if getattr(sys, "frozen", False):
            raise UsageError(
                "--dask needs the optional Dask support, which binaries leave out (it would "
                "double their size and start-up); run the entry script under Python with "
                f"{INSTALL_HINT} installed, or run without --dask"
            ) from None
        raise UsageError(
            f"--dask needs the optional Dask support, which is not installed ({one_line(exc)}); "
            f"install it with {INSTALL_HINT}, or run without --dask"
        ) from None


def parse_address(text: str, given_by: str = "--dask") -> tuple[str | None, int | None]:
    """(scheduler address, None) or (None, local worker count) for ``local[:N]``.

    Anything else is a UsageError naming ``given_by`` and the forms accepted, so
    a typo never waits for a scheduler that cannot exist.
    """
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"{given_by} needs a scheduler address or a local cluster: {_FORMS}")
    local = _LOCAL.fullmatch(stripped)
    if local is not None:
        count = int(local.group(1)) if local.group(1) else usable_cpus()
        if count < 1:
            raise UsageError(f"{given_by} {stripped}: a local cluster needs at least 1 worker")
        return None, count
    remote = _REMOTE.fullmatch(stripped)
    if remote is None or not 1 <= int(remote.group(1)) <= 65535:
        raise UsageError(f"{given_by} {stripped[:80]!r} is not a Dask address; pass {_FORMS}")
    return stripped, None


@dataclass(frozen=True)
class DaskCluster:
    """Where the cluster is, and how often a job may kill a worker before it counts crashed."""

    address: str
    attempts: int = 3

    def connect(self, setup: JobSetup, topic: str, put: Put) -> Connection:
        """A client on the scheduler (a local cluster started first for ``local[:N]``)."""
        require_dask()
        return Connection(self.address, setup, topic, put)

    def task_error(self, error: BaseException) -> SplitterError:
        """The error that stops a run whose batch raised on a worker (not a job's error)."""
        return UsageError(
            f"a Dask worker could not run a batch of jobs ({one_line(error)}); the job function "
            "and the pool's items must unpickle on every worker: define the job in the entry "
            "script, and install the modules it imports on the workers"
        )


class Connection:
    """A Dask client with the run's event subscriptions; owns a local cluster it started."""

    def __init__(self, address: str, setup: JobSetup, topic: str, put: Put) -> None:
        # Typed as Any: distributed's API is not annotated.
        cloudpickle: Any = importlib.import_module("cloudpickle")
        distributed: Any = importlib.import_module("distributed")

        remote, local_workers = parse_address(address)
        self.address = address
        self._local: Any = None
        self._logs = _RoutedLogs()
        try:
            if local_workers is not None:
                self._local = _local_cluster(distributed, local_workers)
                remote = self._local.scheduler_address
            self.client: Any = distributed.Client(
                remote, timeout=CONNECT_TIMEOUT, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            self.close()
            raise UsageError(
                f"cannot reach the Dask scheduler at {address} ({one_line(exc)}); check the "
                "address given by --dask or SPLITTER_DASK, and that `dask scheduler` runs there"
            ) from None
        # By value: the entry script's job need not be importable on the workers.
        self._payload = cloudpickle.dumps(setup)
        self._topic = topic
        self.client.subscribe_topic(topic, lambda event: put("event", event[1]))
        self.client.subscribe_topic("all", lambda event: _on_cluster_event(event[1], put))
        self._threads = 0
        self._threads_at = 0.0
        self._lost_since: float | None = None

    def submit(self, function: Callable[..., Any], key: str, *args: Any, done: Any) -> Any:
        """Submit ``function(setup, topic, key, *args)``; ``done(future)`` runs when it ends."""
        future = self.client.submit(
            function, self._payload, self._topic, key, *args, key=key, pure=False
        )
        future.add_done_callback(done)
        return future

    def on_each_host(self, function: Callable[..., Any], *args: Any) -> list[Any]:
        """``function(setup, *args)`` on one worker of each host in the cluster; its results."""
        chosen: dict[str, str] = {}
        for address in sorted(self.client.nthreads()):
            # tcp://10.0.0.5:40331: workers of one host share the part before the port.
            chosen.setdefault(str(address).rsplit(":", 1)[0], str(address))
        if not chosen:
            return []
        found = self.client.run(function, self._payload, *args, workers=list(chosen.values()))
        return list(found.values())

    def threads(self) -> int:
        """The cluster's worker threads now (asked at most once a second)."""
        now = time.monotonic()
        if now - self._threads_at >= THREADS_REFRESH and self.client.status == "running":
            with contextlib.suppress(OSError, TimeoutError):
                self._threads = sum(self.client.nthreads().values())
            self._threads_at = now
        return self._threads

    def check(self) -> None:
        """Raise DaskLostError once the scheduler has been unreachable for LOST_AFTER s."""
        status = self.client.status
        if status == "running":
            self._lost_since = None
            return
        now = time.monotonic()
        self._lost_since = self._lost_since or now
        if status in ("closed", "closing") or now - self._lost_since >= LOST_AFTER:
            raise DaskLostError(
                f"lost the connection to the Dask scheduler at {self.address} (client "
                f"{status}); what finished is saved: run the same command again to resume"
            )

    def close(self) -> None:
        """Close the client, and the local cluster if this connection started one."""
        client = getattr(self, "client", None)
        if client is not None:
            # Unsubscribed first: else the scheduler tells "all" of this client's exit
            # on the stream being closed, and logs a CRITICAL error about it.
            for topic in (getattr(self, "_topic", None), "all"):
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(topic)
            with contextlib.suppress(Exception):
                client.close(timeout=5)
        if self._local is not None:
            with contextlib.suppress(Exception):
                self._local.close(timeout=10)
            self._local = None
        self._logs.restore()


class _RoutedLogs:
    """While connected, Dask's own loggers go to the run's log (log.zst), not to stderr.

    distributed gives its loggers a stderr handler of their own and stops them
    from propagating, so a lost scheduler printed dozens of traceback lines
    before the run's sentence, and none reached log.zst. Here they propagate
    to the run's handlers, whose console filter keeps them off the console
    (`splitter.run.logs.FILE_ONLY_LOGGERS`); closing puts everything back.
    """

    NAMES = ("distributed", "distributed.client", "distributed.gc", "bokeh", "tornado",
             "tornado.application")  # fmt: skip

    def __init__(self) -> None:
        self._saved: list[tuple[logging.Logger, list[logging.Handler], bool]] = []
        for name in self.NAMES:
            logger = logging.getLogger(name)
            self._saved.append((logger, list(logger.handlers), logger.propagate))
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True

    def restore(self) -> None:
        """Give each logger back its handlers and its propagation, once."""
        for logger, handlers, propagate in self._saved:
            for handler in handlers:
                logger.addHandler(handler)
            logger.propagate = propagate
        self._saved = []


def _local_cluster(distributed: Any, workers: int) -> Any:
    """A LocalCluster whose processes ignore Ctrl-C and SIGHUP: this host decides what stops."""
    if threading.current_thread() is not threading.main_thread():
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.WARNING,
        )  # fmt: skip
    # Children inherit an ignored SIGINT and SIGHUP, so the terminal's Ctrl-C or
    # hang-up reaches only this process, which lets running jobs finish or stops
    # them (as with the local pool).
    ignored = (signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ignored}
    try:
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=None, silence_logs=logging.WARNING,
        )  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _on_cluster_event(message: Any, put: Put) -> None:
    """Runs in the client's event loop: pass on a worker's death with its running tasks."""
    if (
        isinstance(message, dict)
        and message.get("action") == "remove-worker"
        and not message.get("expected")
    ):
        put("lost", (message.get("worker"), list(message.get("processing-tasks", ()))))
