#!/usr/bin/env python3
"""CPU time per event, by process (docs/BENCHMARKS.md, "Issues 11 and 12: cost per event").

    python3 loadtest/cpu_per_event.py ./target/release/loadtest content-views --rate 1500 --seconds 6

Runs the load generator and samples, every 0.2 s from /proc, the CPU time (user + system) of the
generator, of the server it starts (its child `… serve`) and of the PostgreSQL backends connected
to the benchmark database (`ZGLD_BENCH_DB`, default zhugeleida_bench). Prints the generator's
JSON, then `CPU_SECONDS {...}` and `CPU_US_PER_EVENT {...}` (divided by its `rows_stored`).
PostgreSQL backends count from the server's start (before it, the generator seeds the database),
or from their birth if later. `WINDOW_CPU_US_PER_EVENT {...}`: the same for the measured window
only (the generator's `WINDOW start|end <rows>` marks on stderr), divided by the rows stored in
it: the steady state, without the warm-up's cold caches (first request of every customer).
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
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
gen = proc.pid
def snapshot():
    """CPU ticks of the generator, its server and the benchmark's backends, by (kind, pid)."""
    kids = []
    try:
        with open(f"/proc/{gen}/task/{gen}/children") as f: kids = [int(x) for x in f.read().split()]
    except Exception: pass
    snap = {}
    for kind, pids in (("generator",[gen]),("server",[k for k in kids if "serve" in cmdline(k)]),("postgres",pg_backends())):
        for p in pids:
            t = ticks(p)
            if t is not None: snap[(kind,p)] = t
    return snap
# The generator marks its measured window on stderr (`WINDOW start|end <rows stored>`).
window = {}
def read_marks():
    for line in proc.stderr:
        line = line.decode(errors="replace")
        parts = line.split()
        if len(parts) == 3 and parts[0] == "WINDOW":
            window[parts[1]] = (snapshot(), int(parts[2]))
        else:
            sys.stderr.write(line)
import threading
marks = threading.Thread(target=read_marks, daemon=True)
marks.start()
seen = {}  # (kind,pid) -> (first, last)
server_up = False
while proc.poll() is None:
    kids = []
    try:
        with open(f"/proc/{gen}/task/{gen}/children") as f: kids = [int(x) for x in f.read().split()]
    except Exception: pass
    servers = [k for k in kids if "serve" in cmdline(k)]
    if servers and not server_up:
        # The seed (migrate, customers, ANALYZE) is not the benchmark: backends that ran it
        # count from the server's start. Backends born later count from their birth.
        server_up = True
        for k, v in seen.items():
            if k[0] == "postgres": v[0] = v[1]
    for kind, pids in (("generator",[gen]),("server",servers),("postgres",pg_backends())):
        for p in pids:
            t = ticks(p)
            if t is None: continue
            k = (kind,p)
            if k not in seen: seen[k] = [t if kind!="postgres" or not server_up else 0, t]
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
marks.join(timeout=5)
if "start" in window and "end" in window:
    (a, n0), (b, n1) = window["start"], window["end"]
    cpu = {}
    for k, t in b.items():
        base = a.get(k, 0 if k[0] == "postgres" else None)
        if base is None: continue
        cpu[k[0]] = cpu.get(k[0], 0) + (t - base) / HZ
    if n1 > n0:
        per = {k: round(v * 1e6 / (n1 - n0), 1) for k, v in cpu.items()}
        per["total"] = round(sum(cpu.values()) * 1e6 / (n1 - n0), 1)
        per["events"] = n1 - n0
        print("WINDOW_CPU_US_PER_EVENT", json.dumps(per))
