"""A test campaign whose jobs misbehave on purpose, as its [job] section says.

[job] fail = ids that raise; crash = ids whose worker exits; kill = ids whose
worker is killed by SIGKILL (as the OOM killer does); hang = ids that sleep
for an hour; sleep = seconds every job sleeps; chdir = a folder every job
changes the worker's working directory to; marker_dir = a folder where each
job leaves a file per execution (to prove a job ran, or did not run, again).
The environment (not part of the digest) sets the pool size (CAMPAIGN_SIZE),
jobs that fail only while CAMPAIGN_FLAKY lists them, and a slowdown factor of
this host's jobs (CAMPAIGN_SLOW, multiplying the sleep): a slower machine.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import splitter


def _ids(config, option):
    text = config.get("job", option, fallback="")
    return {int(part) for part in text.split(",") if part.strip()}


def job(index, *, random_obj, config, progress):
    marker_dir = config.get("job", "marker_dir", fallback="")
    if marker_dir:
        Path(marker_dir, f"{index}.{os.getpid()}.{time.monotonic_ns()}").touch()
    if config.get("job", "chdir", fallback=""):
        os.chdir(config.get("job", "chdir"))
    logging.getLogger("campaign").info("job %d starts", index)
    if index in _ids(config, "crash"):
        os._exit(7)
    if index in _ids(config, "kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    flaky = {int(i) for i in os.environ.get("CAMPAIGN_FLAKY", "").split(",") if i}
    if index in flaky:
        raise RuntimeError(f"job {index} is flaky")
    if index in _ids(config, "fail"):
        raise ValueError(f"job {index} refuses\nsecond line")
    if index in _ids(config, "hang"):
        time.sleep(3600)
    slow = float(os.environ.get("CAMPAIGN_SLOW", "1"))
    time.sleep(config.getfloat("job", "sleep", fallback=0.0) * slow)
    progress.report(1, base=1)
    return {"index": index, "draw": random_obj.random(), "square": index * index}


if __name__ == "__main__":
    size = int(os.environ.get("CAMPAIGN_SIZE", "40"))
    splitter.main(job, list(range(size)))
