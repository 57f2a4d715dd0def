\set u random(1, 3800)
begin;
set local plan_cache_mode = force_generic_plan;
set local enable_seqscan = off;
insert into spent_signature (kind, principal_id, signature, expires_at, write_key) select 'c', g, md5(random()::text), now() + interval '5 min', (random()*1e15)::int8 from generate_series(:u::int8, :u::int8 + :n::int8 - 1) g on conflict on constraint spent_signature_pkey do update set expires_at = excluded.expires_at where spent_signature.expires_at < now() returning write_key;
insert into user_customer as uc (company_id, user_id, customer_id, source, last_activity_time, ai_energy, ai_energy_at) select 1, ((g - 1) % 200) + 1, g, 1, now(), 1.0, now() from generate_series(:u::int8, :u::int8 + :n::int8 - 1) g order by 2, 3 on conflict on constraint user_customer_pair_key do update set last_activity_time = case when uc.last_activity_time > now() - interval '1 minute' then uc.last_activity_time else now() end, ai_energy = uc.ai_energy * 0.99 + excluded.ai_energy, ai_energy_at = now() returning user_id, customer_id, (xmax = 0), ai_energy, is_up_down;
insert into action_log (company_id, user_id, customer_id, action, delta, log, write_key) select 1, ((g - 1) % 200) + 1, g, 2, 1, '客户查看了您的产品', (random()*1e15)::int8 from generate_series(:u::int8, :u::int8 + :n::int8 - 1) g returning id, create_date;
select user_id, popularity, praise, forward from card_counter where user_id = any(array(select ((g - 1) % 200) + 1 from generate_series(:u::int8, :u::int8 + :n::int8 - 1) g));
commit;
