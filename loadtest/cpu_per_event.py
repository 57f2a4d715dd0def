#!/usr/bin/env python3
"""CPU time per event, by process (docs/BENCHMARKS.md, "Issues 11 and 12: cost per event").

    python3 loadtest/cpu_per_event.py ./target/release/loadtest content-views --rate 1500 --seconds 6

Runs the load generator and samples, every 0.2 s from /proc, the CPU time (user + system) of the
generator, of the server it starts (its child `… serve`) and of the PostgreSQL backends connected
to the benchmark database (`ZGLD_BENCH_DB`, default zhugeleida_bench). Prints the generator's
JSON, then `CPU_SECONDS {...}` and `CPU_US_PER_EVENT {...}` (divided by its `rows_stored`).
CPU time, unlike wall-clock rates, stays comparable on a machine shared with other work
(hardware instruction counters are not available in this VM)."""
import os, sys, subprocess, time, json
db = os.environ.get("ZGLD_BENCH_DB", "zhugeleida_bench")
HZ = os.sysconf("SC_CLK_TCK")
def ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        parts = s[s.rfind(")")+2:].split()
        return int(parts[11]) + int(parts[12])
    except Exception:
        return None
def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline","rb") as f: return f.read().replace(b"\0",b" ").decode(errors="replace")
    except Exception: return ""
def pg_backends():
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        c = cmdline(int(p))
        if c.startswith("postgres: ") and f" {db} " in c:
            out.append(int(p))
    return out
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
gen = proc.pid
seen = {}  # (kind,pid) -> (first, last)
while proc.poll() is None:
    kids = []
    try:
        with open(f"/proc/{gen}/task/{gen}/children") as f: kids = [int(x) for x in f.read().split()]
    except Exception: pass
    for kind, pids in (("generator",[gen]),("server",[k for k in kids if "serve" in cmdline(k)]),("postgres",pg_backends())):
        for p in pids:
            t = ticks(p)
            if t is None: continue
            k = (kind,p)
            if k not in seen: seen[k] = [t if kind!="postgres" else 0, t]
            else: seen[k][1] = t
    time.sleep(0.2)
out = proc.stdout.read().decode()
tot = {}
for (kind,p),(a,b) in seen.items():
    tot[kind] = tot.get(kind,0) + (b-a)/HZ
print(out)
print("CPU_SECONDS", json.dumps({k: round(v, 2) for k, v in tot.items()}))
try:
    n = json.loads(out).get("rows_stored") or 0
except ValueError:
    n = 0
if n:
    per = {k: round(v * 1e6 / n, 1) for k, v in tot.items()}
    per["total"] = round(sum(tot.values()) * 1e6 / n, 1)
    print("CPU_US_PER_EVENT", json.dumps(per))
