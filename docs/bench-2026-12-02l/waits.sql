\pset format unaligned
\pset tuples_only on
select extract(epoch from clock_timestamp())::numeric(16,3) || ' ' || coalesce(string_agg(coalesce(wait_event_type||':'||wait_event,'CPU') || '|' || left(regexp_replace(query,'\s+',' ','g'),40), ';'),'') from pg_stat_activity where datname='zhugeleida_bench' and state='active' and backend_type='client backend' and pid<>pg_backend_pid()
\watch 0.01
