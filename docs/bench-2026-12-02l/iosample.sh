#!/bin/bash
# iosample.sh OUT: every 0.5 s, write_bytes of every process (by name), so a run's writers show
out=$1; : > $out
while true; do
  for p in /proc/[0-9]*; do
    wb=$(awk '/^write_bytes/{print $2}' $p/io 2>/dev/null); [ -z "$wb" ] || [ "$wb" = 0 ] && continue
    echo "$(date +%s) ${p#/proc/} $(cat $p/comm 2>/dev/null) $wb"
  done >> $out
  sleep 0.5
done
