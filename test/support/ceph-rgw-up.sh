#!/usr/bin/env bash
# Starts a throwaway single-node Ceph (1 mon, 1 memstore OSD, no mgr, no cephx) and a
# radosgw on 127.0.0.1, all of it living under one directory, so tests can talk to a real
# S3 implementation with real quirks. Prints shell-style lines: endpoint=, access_key=,
# secret_key=, dir=. Stop it with ceph-rgw-down.sh DIR.
#
# Usage: ceph-rgw-up.sh DIR
set -euo pipefail

DIR=${1:?usage: ceph-rgw-up.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

need_install=()
for bin in ceph-mon ceph-osd radosgw ceph radosgw-admin monmaptool uuidgen; do
  command -v "$bin" >/dev/null 2>&1 || need_install+=("$bin")
done
# python3-rados lives in Debian's own interpreter, not in whatever python3 is first on PATH.
PY=/usr/bin/python3
if ! "$PY" -c 'import rados' >/dev/null 2>&1; then need_install+=(python3-rados); fi
# Installing is scripts/setup's job, not a test's.
if ((${#need_install[@]})); then
  echo "Ceph is not installed (missing: ${need_install[*]}); scripts/setup installs it" >&2
  exit 1
fi

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
MON_V1=$(free_port); MON_V2=$(free_port); RGW_PORT=$(free_port)
# The OSD and the gateway bind their messengers inside this window; pick a random high range
# so parallel clusters rarely collide.
BIND_MIN=$((20000 + (RANDOM % 400) * 100)); BIND_MAX=$((BIND_MIN + 99))
FSID=$(uuidgen); OSD_UUID=$(uuidgen)
ACCESS_KEY=${RGW_ACCESS_KEY:-ncdtestaccess}
SECRET_KEY=${RGW_SECRET_KEY:-ncdtestsecret}

mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon-a" "$DIR/osd-0" "$DIR/rgw"
CONF="$DIR/ceph.conf"
cat >"$CONF" <<CONF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $BIND_MIN
ms bind port max = $BIND_MAX
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
paxos propose interval = 0.05
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
keyring = $DIR/keyring
mon data = $DIR/mon-\$id
osd data = $DIR/osd-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
[client.rgw.a]
# Without cephx the gateway waits forever on the mon handshake unless told both of these.
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $DIR/rgw
log file = $DIR/log/rgw.log
CONF
: >"$DIR/keyring"

# No mgr runs, so a few ceph commands would wait for it forever: bound every call.
C() { timeout 30 ceph -c "$CONF" "$@"; }

monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_V2,v1:127.0.0.1:$MON_V1]" "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >/dev/null
ceph-mon -c "$CONF" -i a 2>/dev/null

C osd new "$OSD_UUID" >/dev/null
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1
ceph-osd -c "$CONF" -i 0 2>/dev/null

for _ in $(seq 1 300); do
  if C osd dump 2>/dev/null | grep -q '^osd.0 up'; then break; fi
  sleep 0.1
done
C osd dump | grep -q '^osd.0 up' || { echo "osd.0 did not come up; see $DIR/log" >&2; exit 1; }

# radosgw would create its pools itself, but that needs the mgr's pg autoscaler defaults;
# creating them here with a small pg count is quicker and works without a mgr.
"$PY" - "$CONF" <<'PY'
import json, sys, rados
c = rados.Rados(conffile=sys.argv[1])
c.connect(timeout=30)
for pool in [".rgw.root", "default.rgw.control", "default.rgw.meta", "default.rgw.log",
             "default.rgw.buckets.index", "default.rgw.buckets.data", "default.rgw.buckets.non-ec"]:
    for cmd in ({"prefix": "osd pool create", "pool": pool, "pg_num": 8, "pgp_num": 8},
                {"prefix": "osd pool application enable", "pool": pool, "app": "rgw"}):
        ret, _, err = c.mon_command(json.dumps(cmd), b"", timeout=30)
        if ret != 0:
            sys.exit(f"{cmd['prefix']} {pool}: {err}")
c.shutdown()
PY

# Created before the gateway starts: both would otherwise claim the same admin socket.
timeout 60 radosgw-admin -c "$CONF" -n client.rgw.a user create --uid=ncd-test --display-name="ncd test" \
  --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null

radosgw -c "$CONF" -n client.rgw.a

for _ in $(seq 1 300); do
  if curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/"; then break; fi
  sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" || { echo "radosgw did not answer; see $DIR/log" >&2; exit 1; }

echo "endpoint=http://127.0.0.1:$RGW_PORT"
echo "access_key=$ACCESS_KEY"
echo "secret_key=$SECRET_KEY"
echo "dir=$DIR"
