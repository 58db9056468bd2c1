#!/usr/bin/env bash
# Slurm and munge for the Slurm tests (`make slurm-test`, tests/slurm/start.sh
# starts the one-node cluster). Idempotent; .ci/run has run apt-get update.
set -euo pipefail
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null \
    || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge
fi
command -v sbatch slurmctld slurmd munged
