"""Processes that die with their parent: the parent-death signal and the watched pipe."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from processes import alive, wait_for

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")


def python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip


@linux
def test_a_process_dies_as_soon_as_the_parent_it_named_exits() -> None:
    # The middle process starts the child, waits until it is set up, and exits.
    done = python("""\
        import os, subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", (
            "import os, time\\n"
            "from splitter.run.lifeline import die_with_parent\\n"
            f"assert die_with_parent({os.getpid()})\\n"
            "print('ready', flush=True)\\n"
            "time.sleep(60)\\n"
        )], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline() == "ready\\n"
        print(child.pid)
    """)
    assert done.returncode == 0, done.stderr
    child = int(done.stdout)
    wait_for(lambda: not alive(child), 10)


@linux
def test_a_process_whose_parent_has_already_gone_gets_the_signal_at_once() -> None:
    done = python("""\
        import signal
        from splitter.run.lifeline import die_with_parent
        die_with_parent(1, signal.SIGTERM)
        print("still here")
    """)
    assert (done.returncode, done.stdout) == (-15, "")


def test_a_process_watching_a_pipe_exits_when_its_other_end_closes() -> None:
    done = python("""\
        import time
        from multiprocessing import Pipe
        from splitter.run.lifeline import exit_when_closed
        watched, held = Pipe(duplex=False)
        exit_when_closed(watched, 3)
        held.close()
        time.sleep(30)
    """)
    assert done.returncode == 3, done.stderr
