#!/usr/bin/env python3
# stalls.py METRICS DISK: per scrape second, the node's chat stores over 50 ms (from /metrics,
# scrape.sh) beside the disk's writes and write time (disk.sh): a second whose stores stalled
# is a second where one write took the disk 50-100 ms.
import re, sys, bisect
scr=[];cur=None
for l in open(sys.argv[1]):
    if l.startswith('###'):
        cur={'t':float(l.split()[1])}; scr.append(cur)
    m=re.match(r'zgld_chat_stage_seconds_bucket\{stage="store",le="([^"]+)"\} (\d+)',l)
    if m and cur is not None: cur[m.group(1)]=int(m.group(2))
disk=[list(map(float,l.split())) for l in open(sys.argv[2]) if len(l.split())==6]
dt=[d[0] for d in disk]; prev=None
for s in scr:
    if '+Inf' not in s: continue
    if prev:
        slow=(s['+Inf']-s.get('0.05',0))-(prev['+Inf']-prev.get('0.05',0)); n=s['+Inf']-prev['+Inf']
        i0=bisect.bisect_left(dt,prev['t']); i1=bisect.bisect_left(dt,s['t'])-1
        if i1>i0:
            w=disk[i1][1]-disk[i0][1]; wms=disk[i1][2]-disk[i0][2]
            print(f"{s['t']-scr[0]['t']:6.1f}s stores {n:5d} over_50ms {slow:4d} | disk writes {w:6.0f} write_ms {wms:6.0f}")
    prev=s
