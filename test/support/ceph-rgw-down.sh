#!/usr/bin/env bash
# Stops the cluster that ceph-rgw-up.sh started in DIR (by the pid files it wrote) and
# removes DIR. Only our own daemons are signalled, never ceph processes by name. The data is
# thrown away, so SIGKILL at once: a memstore OSD would otherwise spend seconds saving itself.
set -uo pipefail
DIR=${1:?usage: ceph-rgw-down.sh DIR}
[ -d "$DIR" ] || exit 0
pids=()
for f in "$DIR"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f"); [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && pids+=("$pid")
done
for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
rm -rf "$DIR"
