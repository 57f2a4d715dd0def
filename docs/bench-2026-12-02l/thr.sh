#!/bin/bash
# samples the server's threads and RSS every 20 ms while the upload benchmark runs
( while true; do p=$(pgrep -x $PROC | head -1); [ -n "$p" ] && awk -v t=$(date +%s.%N) '/^Threads|^VmRSS/ {printf "%s %s ", $1, $2} END {print t}' /proc/$p/status 2>/dev/null; sleep 0.02; done ) > thr.log &
S=$!
"$@"
kill $S
sort -k2 -n thr.log | tail -1; awk '{print $2}' thr.log | sort -n | tail -1
