#!/usr/bin/env bash
# A single-node Slurm cluster for Shammie's tests and bench-slurm: Debian's
# slurm-wlm (22.05) and munge, no systemd, no cgroups, no accounting
# database. Usage (as root):
#
#   tools/slurm/cluster.sh install   apt-get install slurm-wlm munge (if missing)
#   tools/slurm/cluster.sh start     write the config, start munged, slurmctld, slurmd; wait until the node is idle
#   tools/slurm/cluster.sh stop      stop the daemons this script started
#   tools/slurm/cluster.sh status    sinfo
#
# State lives in $SHAMMIE_SLURM_DIR (default /tmp/shammie-slurm); the config
# is $SHAMMIE_SLURM_DIR/slurm.conf, also linked as /etc/slurm/slurm.conf when
# that is free, so sbatch/squeue find it without SLURM_CONF. The node
# declares more CPUs than the machine has (config_overrides) so that many
# short steps run at once, as they would on a real cluster.
set -euo pipefail
DIR=${SHAMMIE_SLURM_DIR:-/tmp/shammie-slurm}
CPUS=${SHAMMIE_SLURM_CPUS:-32}
CONF=$DIR/slurm.conf
HOST=$(hostname -s)

die() { echo "cluster.sh: $*" >&2; exit 1; }

install() {
  if command -v sbatch >/dev/null && command -v munged >/dev/null && command -v slurmctld >/dev/null; then return; fi
  [[ $(id -u) == 0 ]] || die "installing slurm-wlm needs root"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_conf() {
  mkdir -p "$DIR"/{spool/ctld,spool/d,log,run}
  cat >"$CONF" <<CONF
ClusterName=shammie
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# Requeued jobs wait cred_expire seconds before they may start again (120 by default).
AuthInfo=cred_expire=10
CredType=cred/munge
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
MinJobAge=600
MaxArraySize=100001
MaxJobCount=200000
SchedulerParameters=sched_interval=1,bf_interval=1
MessageTimeout=30
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=65536 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  mkdir -p /etc/slurm
  if [[ ! -e /etc/slurm/slurm.conf || -L /etc/slurm/slurm.conf ]]; then ln -sf "$CONF" /etc/slurm/slurm.conf; fi
}

start_munge() {
  if pgrep -x munged >/dev/null; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  chown -R root:root /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  chmod 0700 /etc/munge /var/lib/munge /var/log/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
  munged --force
  echo munged >"$DIR/run/munged.started"
}

wait_idle() {
  for _ in $(seq 1 120); do
    state=$(SLURM_CONF=$CONF sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
    case $state in
      idle|mixed|allocated) echo "cluster.sh: node $HOST is $state"; return 0 ;;
      down*|drain*) SLURM_CONF=$CONF scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  die "node $HOST did not become idle within 60 s (last state: ${state:-none})"
}

start() {
  [[ $(id -u) == 0 ]] || die "starting the test cluster needs root (slurmd runs jobs as any user)"
  install
  write_conf
  start_munge
  if ! [[ -f $DIR/run/slurmctld.pid ]] || ! kill -0 "$(cat "$DIR/run/slurmctld.pid")" 2>/dev/null; then
    slurmctld -f "$CONF" -c -i
  fi
  if ! [[ -f $DIR/run/slurmd.pid ]] || ! kill -0 "$(cat "$DIR/run/slurmd.pid")" 2>/dev/null; then
    slurmd -f "$CONF" -c
  fi
  wait_idle
}

stop() {
  for d in slurmd slurmctld; do
    f=$DIR/run/$d.pid
    if [[ -f $f ]]; then
      pid=$(cat "$f")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$f"
    fi
  done
  if [[ -f $DIR/run/munged.started ]]; then
    pid=$(pgrep -x munged || true)
    if [[ -n $pid ]]; then
      kill $pid 2>/dev/null || true
      for _ in $(seq 1 50); do pgrep -x munged >/dev/null || break; sleep 0.1; done
    fi
    rm -f "$DIR/run/munged.started"
  fi
}

case ${1:-} in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) SLURM_CONF=$CONF sinfo ;;
  conf) echo "$CONF" ;;
  *) echo "usage: $0 install|start|stop|status|conf" >&2; exit 2 ;;
esac
