"""Tests for splitter.run.memguard: the memory a job may use, and what its processes hold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitter.run.memguard import address_space_limit, group_resident, over_memory, size_words

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.mark.parametrize(
    ("size", "words"),
    [(8 * 2**30, "8 GiB"), (3 * 2**29, "1.5 GiB"), (64 * 2**20, "64 MiB"), (512, "512 B")],
)
def test_sizes_read_as_people_say_them(size: int, words: str) -> None:
    assert size_words(size) == words


@linux
def test_an_allocation_past_the_limit_fails_and_the_limit_is_lifted_after() -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(MemoryError), address_space_limit(32 * 2**20):
        bytearray(256 * 2**20)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    assert len(bytearray(64 * 2**20)) == 64 * 2**20


def test_no_limit_is_set_for_nothing_declared() -> None:
    with address_space_limit(0):
        assert len(bytearray(2**20)) == 2**20


@linux
def test_the_resident_memory_of_a_process_group_adds_up_its_processes() -> None:
    code = (
        "b = bytearray(96 * 2**20); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(5)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while (group_resident(child.pid) or 0) < 96 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (group_resident(child.pid) or 0) >= 96 * 2**20
        assert over_memory(child.pid, 64 * 2**20) is not None
        assert over_memory(child.pid, 2**40) is None
    finally:
        child.kill()
        child.wait()


def test_without_proc_nothing_is_measured(tmp_path: Path) -> None:
    assert group_resident(os.getpgid(0), tmp_path / "no-proc") is None
