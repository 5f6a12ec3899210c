#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, from Debian's packages, to try the SLURM
# profile (workflow/profiles/slurm) without a real cluster. Needs root (or sudo) and apt-get.
#   workflow/setup/local_slurm.sh start    # install if missing, configure, start, wait for the node
#   workflow/setup/local_slurm.sh status   # sinfo and the queue
#   workflow/setup/local_slurm.sh stop     # stop the daemons this script started
# The node offers every CPU of this machine, 128 GB of (unenforced) memory and one GPU as a
# GRES without a device behind it, so that the SLURM profile's requests are granted as they
# are: jobs asking for a GPU are scheduled (and run on the CPU).
# slurm.conf goes to /etc/slurm/ (jobs' inner `srun` calls only look there); state and logs
# go to $TRANSCENDENCE_SLURM_STATE (default /tmp/transcendence-slurm), including
# jobcomp.log: one line per finished job, the record that a job really ran under SLURM.
set -euo pipefail

STATE=${TRANSCENDENCE_SLURM_STATE:-/tmp/transcendence-slurm}
CONF=/etc/slurm/slurm.conf
MEM_MB=${TRANSCENDENCE_SLURM_MEM_MB:-131072}
MARK="# written by transcendence workflow/setup/local_slurm.sh"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
      && command -v sbatch >/dev/null; then
    return
  fi
  echo "installing slurm-wlm and munge with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slurm-wlm munge >/dev/null
}

configure() {
  if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "$CONF exists and was not written by this script: not touching it" >&2
    exit 1
  fi
  $sudo mkdir -p "$STATE/ctld" "$STATE/d" /etc/slurm
  local node host
  host=$(hostname -s)
  # The node line as slurmd detects this hardware (CPUs, sockets, cores), except memory:
  # the node claims $MEM_MB MB so that the profile's paper-sized requests (64 GB for
  # training) are accepted. Memory is not a consumable here (CR_CPU) and not enforced.
  node=$($sudo slurmd -C | head -n 1 | sed "s/RealMemory=[0-9]*/RealMemory=$MEM_MB/")
  $sudo tee "$CONF" >/dev/null <<EOF
$MARK
ClusterName=transcendence
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
# Finished jobs stay visible to squeue for an hour: Snakemake's status checks use squeue,
# as there is no accounting database for sacct here.
MinJobAge=3600
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
MpiDefault=none
GresTypes=gpu
$node NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # One GPU "device" with nothing behind it (/dev/null): scheduling only.
  $sudo tee /etc/slurm/gres.conf >/dev/null <<EOF
$MARK
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
EOF
}

start() {
  install
  configure
  if ! pgrep -x munged >/dev/null; then
    $sudo service munge start >/dev/null
    touch "$STATE/started-munge"
  fi
  # -c: a fresh controller, without the jobs and node states of an earlier start.
  pgrep -x slurmctld >/dev/null || $sudo slurmctld -c
  pgrep -x slurmd >/dev/null || $sudo slurmd
  local host state
  host=$(hostname -s)
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in
      idle) sinfo; return ;;
      drain*|down*) $sudo scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
  done
  echo "the node did not come up; see $STATE/slurmctld.log and $STATE/slurmd.log" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  if [ -e "$CONF" ] && grep -qF "$MARK" "$CONF"; then
    $sudo scontrol shutdown >/dev/null 2>&1 || true
  fi
  for pidfile in "$STATE/slurmd.pid" "$STATE/slurmctld.pid"; do
    if [ -s "$pidfile" ]; then $sudo kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  if [ -e "$STATE/started-munge" ]; then
    $sudo service munge stop >/dev/null || true
    rm -f "$STATE/started-munge"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo && squeue --states=all ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
