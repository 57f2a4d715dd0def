#!/bin/bash
# disk.sh OUT: every 100 ms: time, vda writes completed, ms writing, weighted ms, Dirty kB, Writeback kB
out=$1; : > $out
while true; do
  d=$(awk '$3=="vda"{print $8, $11, $14}' /proc/diskstats)
  m=$(awk '/^Dirty:|^Writeback:/{printf "%s ", $2}' /proc/meminfo)
  echo "$(date +%s.%N) $d $m" >> $out
  sleep 0.1
done
