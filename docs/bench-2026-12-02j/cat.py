import sys
from collections import Counter
blocks=open(sys.argv[1]).read().split('\n\n')
fr_all=[]
for b in blocks:
    fr=[l.strip().split(' ',1)[1] if ' ' in l.strip() else l.strip() for l in b.strip().split('\n') if l.strip()]
    if fr: fr_all.append(fr)
N=len(fr_all)
cats=[('pg-encode/decode','tokio_postgres::'),('pg-conn','tokio_postgres'),('writer-batch','service::batch'),('radar-store','db::radar'),
('hub','zhugeleida::hub'),('tungstenite','tungstenite'),('auth-extract','CustomerEvent as axum_core'),('params','Params as axum_core'),
('metrics-mw','monitoring::track'),('content-cache-mw','after_staff_writes'),('request-id','request_id'),('trace','tower_http::trace'),
('showcase','showcase'),('radar-svc','service::radar'),('reply','reply::'),('people','People'),('axum-routing','axum::routing'),
('hyper-write','poll_write'),('hyper-read','poll_read'),('hyper','hyper::'),('tokio-sched','tokio::runtime::scheduler'),('tokio-io','tokio::runtime::io')]
c=Counter(); ck=Counter()
for fr in fr_all:
    kern = fr[0].startswith(('[k]',)) 
    name='other'
    for f in fr:
        hit=None
        for cn,p in cats:
            if p in f: hit=cn;break
        if hit: name=hit;break
    c[name]+=1
for k,v in c.most_common(): print(f"{k:20s} {100*v/N:5.1f}%")
print('---')
want=sys.argv[2] if len(sys.argv)>2 else 'axum-routing'
cc=Counter()
for fr in fr_all:
    name='other'; idx=0
    for i,f in enumerate(fr):
        hit=None
        for cn,p in cats:
            if p in f: hit=cn;break
        if hit: name=hit; idx=i; break
    if name==want:
        cc[' <- '.join(x[:70] for x in fr[:min(idx+1,4)])]+=1
for k,v in cc.most_common(15): print(v,k)
