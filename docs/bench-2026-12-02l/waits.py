#!/usr/bin/env python3
# waits.py WAITS_LOG REL_ERR: share of 10 ms samples (waits.sql under psql \watch 0.01) in which an
# active backend showed each wait event, per chat phase (times from the timestamped stderr of
# `release --rounds 1`; 3 s of warm-up skipped).
import sys, collections
starts=[float(l.split()[0]) for l in open(sys.argv[2]) if '[release] round' in l]
w0,w1=starts[0]+3,starts[1]; b0=starts[1]+3; b1=b0+45
ph={'without':collections.Counter(),'with':collections.Counter()}; n={'without':0,'with':0}
for l in open(sys.argv[1]):
    p=l.rstrip('\n').split(' ',1)
    try: t=float(p[0])
    except ValueError: continue
    k='without' if w0<=t<w1 else 'with' if b0<=t<b1 else None
    if not k: continue
    n[k]+=1
    if len(p)>1 and p[1]:
        for e in p[1].split(';'):
            ev,q=e.split('|',1); ph[k][(ev,q[:28])]+=1
for k in ph:
    print(k,'samples',n[k])
    for (ev,q),c in ph[k].most_common(12): print(f"   {c/n[k]:6.3f} {ev:24s} {q}")
