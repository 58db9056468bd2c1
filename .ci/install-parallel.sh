#!/usr/bin/env bash
# GNU parallel: a peer that bench/bench_tasks.py compares `run --tasks` with
# (the bench skips it when absent). Idempotent.
set -euo pipefail
if ! command -v parallel >/dev/null; then
    apt-get install -y -qq --no-install-recommends parallel
fi
parallel --version | head -1
