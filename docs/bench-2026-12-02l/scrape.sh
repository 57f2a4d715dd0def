#!/bin/bash
# scrape.sh OUT: /metrics of the node on 18200 every second, each scrape with a timestamp
out=$1; : > $out
while true; do
  m=$(curl -s --max-time 1 http://127.0.0.1:18200/metrics) && { echo "### $(date +%s.%N)"; echo "$m" | grep -E "^zgld_(runtime_lag|writer_commit|writer_wait|chat_stage)"; } >> $out
  sleep 1
done
