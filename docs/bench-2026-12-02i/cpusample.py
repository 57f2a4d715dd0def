#!/usr/bin/env python3
# cpusample.py CMD... : runs CMD, samples every 0.5 s the CPU ticks of every process, prints CPU seconds by name
# over the run (per pid: last seen - first seen (or 0 if born during the run)).
import os, sys, subprocess, time, collections
HZ=os.sysconf("SC_CLK_TCK")
def snap():
    out={}
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try:
            s=open(f'/proc/{p}/stat').read()
            name=s[s.find('(')+1:s.rfind(')')]
            if name.startswith('zgld') or name.startswith('zhugeleida'):
                try: name+=':'+open(f'/proc/{p}/cmdline','rb').read().split(b'\0')[1].decode()
                except Exception: pass
            parts=s[s.rfind(')')+2:].split()
            out[int(p)]=(name,int(parts[11])+int(parts[12]))
        except Exception: pass
    return out
first=snap(); last=dict(first)
born={}
proc=subprocess.Popen(sys.argv[1:])
t0=time.time()
tl=open(os.environ.get('TIMELINE','/tmp/b/timeline.txt'),'w')
while proc.poll() is None:
    time.sleep(0.5)
    for pid,(n,t) in snap().items():
        if pid not in first and pid not in born: born[pid]=(n,0)
        last[pid]=(n,t)
    tot=collections.Counter()
    for pid,(n,t) in last.items():
        base=first.get(pid,born.get(pid,(n,0)))[1]
        if first.get(pid) and first[pid][0]!=n: base=0
        tot[n]+=(t-base)/HZ
    tl.write(f"{time.time()-t0:.1f} "+" ".join(f"{k}={tot[k]:.2f}" for k in ('postgres','zgld-base:serve','zgld-base:wechat-sandbox','lt-base'))+"\n"); tl.flush()
wall=time.time()-t0
by=collections.Counter()
for pid,(n,t) in last.items():
    base=first.get(pid,born.get(pid,(n,0)))[1]
    if first.get(pid) and first[pid][0]!=n: base=0
    by[n]+= (t-base)/HZ
print(f"WALL {wall:.1f}s", file=sys.stderr)
for n,s in by.most_common(12):
    if s>0.05: print(f"CPU {n:20s} {s:7.2f}s {100*s/wall:5.1f}%", file=sys.stderr)
