import json,sys
for f in sys.argv[1:]:
    d=json.load(open(f)); c=d.get('chat',{})
    print(f, 'total',d.get('total_secs'), 'p50 w/o',c.get('p50_without_ms'),'with',c.get('p50_with_ms'),'ratio',c.get('p50_ratio'))
    print('   p99 w/o',c.get('p99_without_ms'),'with',c.get('p99_with_ms'),'ratio',c.get('p99_ratio'))
    print('   totals', [round(x,1) for x in d.get('total_secs_rounds',[])] if d.get('total_secs_rounds') else '', [w.get('loadavg') for w in c.get('with_batch',[])])
