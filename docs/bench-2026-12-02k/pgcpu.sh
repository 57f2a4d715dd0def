#!/bin/bash
# pgcpu.sh N SECONDS: runs wb.sql with n=N, prints tx/s and backend CPU ms per tx
n=$1; T=$2
pgbench -n -U postgres -h 127.0.0.1 -M prepared -f wb.sql -D n=$n -T $T zhugeleida_bench > pgb.out 2>&1 &
sleep 1
bp=$(psql -U postgres -h 127.0.0.1 -d postgres -Atc "select pid from pg_stat_activity where application_name='pgbench' and datname='zhugeleida_bench'" | head -1)
t0=$(awk '{print $14+$15}' /proc/$bp/stat)
sleep $((T-2))
t1=$(awk '{print $14+$15}' /proc/$bp/stat)
wait
tps=$(grep "^tps" pgb.out | awk '{print $3}')
python3 -c "
tps=float('$tps'); cpu=($t1-$t0)/100.0; secs=$T-3
print(f'n=$n tps={tps:.0f} backend_cpu_per_tx_ms={cpu/(tps*secs)*1000:.3f} per_row_us={cpu/(tps*secs)/$n*1e6:.1f} lat={open(\"pgb.out\").read().split(\"latency average = \")[1].split()[0]}ms')"
