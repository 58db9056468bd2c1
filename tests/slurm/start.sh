#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine for the Slurm tests (root only).
#
# Everything lives in one state folder ($SPLITTER_SLURM_DIR, default
# /tmp/splitter-slurm): slurm.conf, the controller's state, the spool, the logs
# and the daemons' pid files. Nothing under /etc is written except munge's key,
# which the munge package creates if it is missing. Idempotent: when the node
# already answers idle, it does nothing. Prints `export SLURM_CONF=...`, the one
# line the Slurm commands need to find this cluster; the tests read the same
# default path. Needs slurm-wlm and munge (.ci/install-slurm.sh).
set -euo pipefail

DIR="${SPLITTER_SLURM_DIR:-/tmp/splitter-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"
WAIT_SECONDS="${SPLITTER_SLURM_WAIT:-60}"

for tool in munged slurmctld slurmd sinfo sbatch; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: install Slurm with .ci/install-slurm.sh" >&2
        exit 1
    }
done

node_idle() {
    sinfo --noheader --responding --states=idle -o '%N' 2>/dev/null | grep -q .
}

if [ -f "$CONF" ] && node_idle; then
    echo "export SLURM_CONF=$CONF"
    exit 0
fi

mkdir -p "$DIR/state" "$DIR/spool"

# munged runs as its own user, with its socket under /run/munge.
if ! munge -n >/dev/null 2>&1; then
    [ -f /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n >/dev/null || { echo "munged did not start" >&2; exit 1; }
fi

HOST="$(hostname -s)"
# This machine's CPUs, sockets, cores and memory, as slurmd itself sees them.
NODE="$(slurmd -C | head -n 1 | sed -e "s/^NodeName=[^ ]*/NodeName=$HOST/" -e 's/ UpTime=.*//')"

cat >"$CONF" <<CONF
# Written by tests/slurm/start.sh: one node, this machine, for the Slurm tests.
ClusterName=splitter-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

# -D keeps each daemon in the foreground of its own background process; -c
# starts the controller without state from an earlier cluster in this folder.
if [ ! -f "$DIR/slurmctld.pid" ] || ! kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; then
    nohup slurmctld -D -c -f "$CONF" >"$DIR/slurmctld.out" 2>&1 &
fi
if [ ! -f "$DIR/slurmd.pid" ] || ! kill -0 "$(cat "$DIR/slurmd.pid")" 2>/dev/null; then
    nohup slurmd -D -f "$CONF" -N "$HOST" >"$DIR/slurmd.out" 2>&1 &
fi

for _ in $(seq "$((WAIT_SECONDS * 2))"); do
    if node_idle; then
        echo "export SLURM_CONF=$CONF"
        exit 0
    fi
    sleep 0.5
done
echo "the Slurm node did not come up idle within ${WAIT_SECONDS}s; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
sinfo >&2 || true
exit 1
