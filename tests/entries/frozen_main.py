"""The campaign the one-file binary test builds: 300 tiny jobs that touch what a binary must carry.

Each job uses the stdlib and NumPy streams of its random_obj, its config (a
getfilesize value) and progress, so the frozen run proves NumPy, zstandard and
the injection all work without Python installed. [job] sleep makes every job
sleep that long (the test of stale unpack folders needs a run it can kill).

In a binary, a worker process runs the entry script as ``__main__``: without
the ``freeze_support()`` line it would build the pool (and do anything else
above ``splitter.main``) once more per worker. With $MAIN_RUNS set, the main
block appends its pid to that file, so the test can count how often it ran.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import splitter

SIZE = 300


def job(index, label, *, random_obj, config, progress):
    time.sleep(config.getfloat("job", "sleep", fallback=0.0))
    progress.report(1, base=1)
    return {
        "index": index,
        "label": label,
        "draw": random_obj.random(),
        "normal": float(random_obj.numpy.standard_normal()),
        "chunk": config.getfilesize("job", "chunk"),
    }


if __name__ == "__main__":
    multiprocessing.freeze_support()  # A worker of the binary leaves here, as under Python.
    if "MAIN_RUNS" in os.environ:
        with open(os.environ["MAIN_RUNS"], "a", encoding="utf-8") as runs:
            runs.write(f"{os.getpid()}\n")
    splitter.main(job, [(index, f"item-{index % 7}") for index in range(SIZE)])
