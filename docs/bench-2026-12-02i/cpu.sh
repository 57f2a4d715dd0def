#!/bin/bash
# cpu.sh peer|ours RATE SECS [envs]  -> CPU seconds of server, postgres, node during the measured run
WHO=$1; RATE=$2; SECS=$3; ENVS=${4:-}
PG=postgres://postgres@127.0.0.1:5432
cd /tmp/peer
wait_port(){ for _ in $(seq 200); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done; return 1; }
pgt(){ local t=0; for p in $(pgrep -f 'postgres'); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
pt(){ awk '{print $14+$15}' /proc/$1/stat; }
if [ $WHO = peer ]; then
  PORT=7000 DATABASE_URL=$PG/peerbench node server.mjs > /tmp/peer/peer.log 2>&1 & pid=$!
  wait_port 7000 "/socket.io/?EIO=4&transport=polling"; url=ws://127.0.0.1:7000; kind=peer
else
  env ${ENVS//,/ } ZGLD_BIND=127.0.0.1:18500 ZGLD_DATABASE_URL=$PG/zgld_peer_a ZGLD_LOG=warn $WHO serve > /tmp/peer/ours.log 2>&1 & pid=$!
  wait_port 18500 /healthz; url=ws://127.0.0.1:18500; kind=ours
fi
export OURS_USERS=users-a.json
node loadgen.mjs $kind $url 100 1000 5 >/dev/null 2>&1
sleep 1
s0=$(pt $pid); p0=$(pgt); t0=$(date +%s.%N)
node loadgen.mjs $kind $url 100 $RATE $SECS > /tmp/b/cpu-res.json 2>/tmp/b/cpu-err.txt & lg=$!
sleep 0.5; l0=$(pt $lg)
while kill -0 $lg 2>/dev/null; do l1=$(pt $lg); sleep 0.2; done
s1=$(pt $pid); p1=$(pgt); t1=$(date +%s.%N)
[ -n "$METRICS" ] && curl -s http://127.0.0.1:18500/metrics > /tmp/b/metrics.txt; kill $pid; wait $pid 2>/dev/null
python3 - "$s0" "$s1" "$p0" "$p1" "$l0" "$l1" "$t0" "$t1" "$RATE" "$SECS" <<'PY'
import sys,json
s0,s1,p0,p1,l0,l1=map(int,sys.argv[1:7]); t0,t1=map(float,sys.argv[7:9]); rate,secs=int(sys.argv[9]),int(sys.argv[10])
r=json.load(open('/tmp/b/cpu-res.json'))
n=rate*secs
hz=100
print(f"wall {t1-t0:.1f}s server {(s1-s0)/hz:.2f}s pg {(p1-p0)/hz:.2f}s loadgen {(l1-l0)/hz:.2f}s | per msg us: server {(s1-s0)/hz/n*1e6:.0f} pg {(p1-p0)/hz/n*1e6:.0f} lg {(l1-l0)/hz/n*1e6:.0f} | p50 {r['p50_ms']} p99 {r['p99_ms']}")
PY
grep -o 'ack_p50_ms=[^ ]*' /tmp/b/cpu-err.txt
