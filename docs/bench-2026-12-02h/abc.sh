#!/bin/bash
# Alternating side-by-side: peer, then each of ours (label=bin:db:users[:ENV=V,...]), ROUNDS times.
# usage: abc.sh OUT ROUNDS RATE SECS spec...
OUT=$1; ROUNDS=$2; RATE=$3; SECS=$4; shift 4
PG=postgres://postgres@127.0.0.1:5432
cd /tmp/peer
wait_port(){ for _ in $(seq 200); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$1$2" && return 0; sleep 0.1; done; return 1; }
for r in $(seq "$ROUNDS"); do
  for spec in peer "$@"; do
    ack=""
    if [ "$spec" = peer ]; then
      label=peer
      psql -h 127.0.0.1 -U postgres -d peerbench -qc 'vacuum' >/dev/null 2>&1
      PORT=7000 DATABASE_URL=$PG/peerbench node server.mjs > /tmp/peer/peer.log 2>&1 & pid=$!
      wait_port 7000 "/socket.io/?EIO=4&transport=polling"
      node loadgen.mjs peer ws://127.0.0.1:7000 100 1000 5 >/dev/null 2>&1
      sleep 1
      res=$(node loadgen.mjs peer ws://127.0.0.1:7000 100 "$RATE" "$SECS" 2>/tmp/peer/lg.err)
    else
      label=${spec%%=*}; IFS=: read -r bin db users envs <<< "${spec#*=}"
      psql -h 127.0.0.1 -U postgres -d "$db" -qc 'vacuum' >/dev/null 2>&1
      env ${envs//,/ } ZGLD_BIND=127.0.0.1:18500 ZGLD_DATABASE_URL=$PG/$db ZGLD_LOG=warn "$bin" serve > /tmp/peer/ours.log 2>&1 & pid=$!
      wait_port 18500 /healthz
      OURS_USERS=$users node loadgen.mjs ours ws://127.0.0.1:18500 100 1000 5 >/dev/null 2>&1
      sleep 1
      res=$(OURS_USERS=$users node loadgen.mjs ours ws://127.0.0.1:18500 100 "$RATE" "$SECS" 2>/tmp/peer/lg.err)
      ack=$(grep -o 'ack_p50_ms=[^ ]* ack_p99_ms=[^ ]*' /tmp/peer/lg.err)
    fi
    kill $pid; wait $pid 2>/dev/null
    [ -n "$res" ] || res=null
    echo "{\"round\":$r,\"server\":\"$label\",\"rate\":$RATE,\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\",\"ack\":\"$ack\",\"result\":$res}" | tee -a "$OUT"
  done
done
