#!/bin/bash
# usage: perfrun.sh out-prefix server-bin rate [extra loadtest args]
out=$1; srv=$2; rate=$3; shift 3
export ZGLD_MAX_CONNECTIONS_PER_ADDRESS=100000
${LT:-/tmp/b/lt-base} --server $srv content-views --rate $rate --seconds 10 --connections 512 "$@" > $out.json 2> $out.err &
lt=$!
while ! grep -q "WINDOW start" $out.err 2>/dev/null; do sleep 0.2; done
sleep 1
perf record -F 2000 -a -g -o $out.perf -- sleep 5 2> /dev/null
wait $lt
