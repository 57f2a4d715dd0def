#!/bin/bash
# usage: metricsrun.sh out-prefix server-bin lt-bin rate [extra]
out=$1; srv=$2; lt=$3; rate=$4; shift 4
export ZGLD_MAX_CONNECTIONS_PER_ADDRESS=100000
$lt --server $srv content-views --rate $rate --seconds 10 --connections 512 "$@" > $out.json 2> $out.err &
p=$!
while ! grep -q "WINDOW start" $out.err 2>/dev/null; do sleep 0.2; done
curl -s localhost:18601/metrics > $out.m0
sleep 9.5
curl -s localhost:18601/metrics > $out.m1
wait $p
python3 - $out <<'PY'
import sys,re
o=sys.argv[1]
def parse(f):
    d={}
    for l in open(f):
        if l.startswith("#") or "radar writer" not in l: continue
        k,v=l.rsplit(' ',1); d[k]=float(v)
    return d
a,b=parse(o+'.m0'),parse(o+'.m1')
for k in sorted(b):
    if '_sum{' in k or '_count{' in k:
        print(k, round(b[k]-a.get(k,0),4))
PY
grep -E '"push_p|delivered_per|request_p' $out.json
