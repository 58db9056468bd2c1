"""The process-tree helpers of shell tasks: tokens, the keeper, adopted orphans (Linux)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from processes import alive, kill_leftovers, running, unique_sleep, wait_for
from splitter.run import tasktree
from splitter.run.tasktree import TOKEN_VARIABLE, inherited_fds, kill_holders, token_holders

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="tokens are found in /proc (Linux)"
)


def start(command: str, token: str) -> subprocess.Popen[bytes]:
    """``command`` under bash, in a session of its own, carrying ``token``."""
    return subprocess.Popen(
        ["bash", "-c", command], env={**os.environ, TOKEN_VARIABLE: token},
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def test_token_holders_finds_what_carries_the_token_even_in_a_session_of_its_own() -> None:
    sleep = unique_sleep(60)
    token = tasktree.new_token()
    process = start(f"setsid sleep {sleep} & wait", token)
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 1)
        found = token_holders([token])
        assert sorted(found) == sorted([process.pid, *running("sleep", sleep)])
        assert token_holders([tasktree.new_token()]) == []
        assert token_holders([token[:-1]]) == []
    finally:
        kill_leftovers([sleep], [process.pid])
        process.wait()


def test_kill_holders_kills_every_process_carrying_the_token_and_nothing_else() -> None:
    sleep = unique_sleep(60)
    token, other = tasktree.new_token(), tasktree.new_token()
    mine = start(f"setsid sleep {sleep} & sleep {sleep}", token)
    theirs = start(f"sleep {sleep}", other)
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 3)
        kill_holders([token])
        mine.wait(10)
        wait_for(lambda: running("sleep", sleep) == [theirs.pid])
        assert alive(theirs.pid)
    finally:
        kill_leftovers([sleep], [mine.pid, theirs.pid])
        theirs.wait()


def keeper() -> subprocess.Popen[bytes]:
    """The keeper, run as the script it is (no splitter importable)."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", tasktree.__file__], stdin=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip


def test_the_keeper_kills_what_it_holds_when_its_pipe_closes_and_then_exits() -> None:
    sleep = unique_sleep(60)
    token = tasktree.new_token()
    task = start(f"setsid sleep {sleep} & sleep {sleep}", token)
    kept = keeper()
    try:
        wait_for(lambda: len(running("sleep", sleep)) == 2)
        assert kept.stdin is not None
        kept.stdin.write(f"+ {task.pid} {token}\n".encode())
        kept.stdin.close()  # what the death of its worker does
        assert kept.wait(10) == 0
        task.wait(10)
        wait_for(lambda: running("sleep", sleep) == [])
    finally:
        kill_leftovers([sleep], [task.pid])


def test_the_keeper_leaves_alone_a_group_it_was_told_is_cleaned_up() -> None:
    sleep = unique_sleep(60)
    token = tasktree.new_token()
    task = start(f"sleep {sleep}", token)
    kept = keeper()
    try:
        assert kept.stdin is not None
        kept.stdin.write(f"+ {task.pid} {token}\n- {task.pid}\n".encode())
        kept.stdin.close()
        assert kept.wait(10) == 0
        assert alive(task.pid)
    finally:
        kill_leftovers([sleep], [task.pid])
        task.wait()


def test_a_subreaper_adopts_what_its_child_left_and_kill_adopted_reaps_it(tmp_path: Path) -> None:
    sleep = unique_sleep(60)
    script = textwrap.dedent(f"""\
        import os, subprocess
        from splitter.run.lifeline import become_subreaper
        from splitter.run.tasktree import children, kill_adopted
        assert become_subreaper()
        subprocess.run(["bash", "-c", "setsid sleep {sleep} & (sleep {sleep} &)"], check=True)
        adopted = children()
        kill_adopted(keep=())
        print(len(adopted), children())
    """)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
        )
        assert done.stdout == "2 []\n", done.stderr
        assert running("sleep", sleep) == []
    finally:
        kill_leftovers([sleep])


def test_inherited_fds_lists_the_descriptors_a_program_would_inherit_and_no_others() -> None:
    read, write = os.pipe()
    try:
        os.set_inheritable(write, True)
        found = inherited_fds()
        assert write in found and read not in found
        assert all(fd > 2 for fd in found)
    finally:
        os.close(read)
        os.close(write)


def test_a_keeper_that_was_killed_is_replaced_at_the_next_task_and_kills_at_the_end() -> None:
    sleep = unique_sleep(60)
    # A worker in miniature: starts a task group, holds it, loses its keeper,
    # holds again, and dies without cleaning up.
    script = textwrap.dedent(f"""\
        import os, signal, subprocess, time
        from splitter.run.tasktree import Keeper, new_token
        task = subprocess.Popen(["sleep", "{sleep}"], start_new_session=True)
        keeper = Keeper()
        keeper.hold(task.pid, new_token())
        first = keeper.pid
        os.kill(first, signal.SIGKILL)
        os.waitpid(first, 0)
        keeper.hold(task.pid, new_token())
        print(first != keeper.pid, flush=True)
        os._exit(0)
    """)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
        )
        assert done.stdout == "True\n", done.stderr
        wait_for(lambda: running("sleep", sleep) == [], 10)
    finally:
        kill_leftovers([sleep])
