"""splitter running a benchmark workload: python splitter_main.py WORKLOAD N run --all ..."""

from __future__ import annotations

import sys

from workloads import WORKLOADS

import splitter

if __name__ == "__main__":
    workload, size = sys.argv[1], int(sys.argv[2])
    splitter.main(WORKLOADS[workload], range(size), argv=sys.argv[3:])
