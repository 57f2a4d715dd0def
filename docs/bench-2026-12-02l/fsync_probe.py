#!/usr/bin/env python3
# fsync_probe.py RATE SECONDS: 8 KiB write + fdatasync at RATE/s (paced) on /var/lib/postgresql's disk;
# prints the count of syncs over 10/20/50 ms and the worst, so the disk's own stalls can be seen without PostgreSQL.
import os, sys, time
rate=float(sys.argv[1]); secs=float(sys.argv[2])
path='/var/lib/postgresql/fsync_probe.tmp'
fd=os.open(path, os.O_WRONLY|os.O_CREAT, 0o600)
buf=os.urandom(8192)
lat=[]; t0=time.perf_counter(); n=0; off=0
while True:
    due=t0+n/rate
    now=time.perf_counter()
    if now-t0>secs: break
    if due>now: time.sleep(due-now)
    a=time.perf_counter()
    os.pwrite(fd, buf, off); os.fdatasync(fd)
    lat.append((a-t0, (time.perf_counter()-a)*1000))
    off=(off+8192)%(16*1024*1024); n+=1
os.close(fd); os.unlink(path)
ls=sorted(l for _,l in lat)
print(f"rate {rate:.0f}/s done {len(lat)/secs:.0f}/s p50 {ls[len(ls)//2]:.2f} ms p99 {ls[int(len(ls)*.99)]:.2f} ms max {ls[-1]:.1f} ms; >10ms {sum(l>10 for l in ls)} >20ms {sum(l>20 for l in ls)} >50ms {sum(l>50 for l in ls)}; stall seconds: {sorted(set(int(t) for t,l in lat if l>20))}")
