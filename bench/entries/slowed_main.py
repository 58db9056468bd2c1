"""A campaign whose host is slowed by the environment: python slowed_main.py N COMMAND ...

Each job sleeps [job] sleep seconds times $BENCH_SLOW (default 1), so two
"hosts" on one machine can differ in speed as two real machines would.
"""

from __future__ import annotations

import configparser
import os
import sys
import time

import splitter


def job(index: int, *, config: configparser.ConfigParser) -> int:
    time.sleep(config.getfloat("job", "sleep") * float(os.environ.get("BENCH_SLOW", "1")))
    return index


if __name__ == "__main__":
    splitter.main(job, range(int(sys.argv[1])), argv=sys.argv[2:])
