-- Deletes keep the dashboards true (issue 8 defect 11): QYW-09 ends a relation, which took the
-- salesperson's "new customers" count with it only in `customer_count`, not in `radar_daily`
-- (check-counters --user: counter 5, scan 4); deleting a salesperson cascades to their
-- follow-up records and deletes their log, which the company's counts kept. All now count
-- down, on the day each row was counted on.
create or replace function user_customer_counters() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        insert into customer_count as k (user_id, source, n)
        select user_id, source, count(*) from new_rows group by user_id, source order by 1, 2
        on conflict (user_id, source) do update set n = k.n + excluded.n;
        insert into radar_daily as d (company_id, user_id, day, customer_num)
        select company_id, user_id, shanghai_day(create_date), count(*)
        from new_rows group by 1, 2, 3 order by 1, 2, 3
        on conflict (company_id, user_id, day) do update set customer_num = d.customer_num + excluded.customer_num;
    else
        update customer_count k set n = k.n - o.n
        from (select user_id, source, count(*) as n from old_rows group by user_id, source) o
        where k.user_id = o.user_id and k.source = o.source;
        update radar_daily d set customer_num = d.customer_num - o.n
        from (select company_id, user_id, shanghai_day(create_date) as day, count(*) as n
              from old_rows group by 1, 2, 3) o
        where d.company_id = o.company_id and d.user_id = o.user_id and d.day = o.day;
    end if;
    return null;
end $$;

create function follow_record_uncount() returns trigger language plpgsql as $$
begin
    update radar_daily d set follow_num = d.follow_num - o.n
    from (select company_id, u, shanghai_day(create_date) as day, count(*) as n
          from old_rows cross join lateral (values (user_id), (0::bigint)) as who(u)
          group by 1, 2, 3) o
    where d.company_id = o.company_id and d.user_id = o.u and d.day = o.day;
    return null;
end $$;
create trigger follow_record_uncount after delete on follow_record
    referencing old table as old_rows for each statement execute function follow_record_uncount();

-- Deleted log rows (a salesperson's delete takes their log) leave the daily counts too, the
-- salesperson's and the company's.
create or replace function action_log_uncount() returns trigger language plpgsql as $$
begin
    update card_counter c set
        popularity = c.popularity - o.popularity, praise = c.praise - o.praise, forward = c.forward - o.forward
    from (select user_id,
                 count(*) filter (where action = 1) as popularity,
                 coalesce(sum(delta) filter (where action = 9), 0) as praise,
                 count(*) filter (where action = 6) as forward
          from old_rows group by user_id) o
    where c.user_id = o.user_id;
    update radar_daily d set
        browse_num = d.browse_num - o.browse, forward_num = d.forward_num - o.forward,
        saved_num = d.saved_num - o.saved, praise_num = d.praise_num - o.praise
    from (select company_id, u, shanghai_day(create_date) as day,
                 count(*) filter (where action between 1 and 4) as browse,
                 count(*) filter (where action = 6) as forward,
                 count(*) filter (where action = 8) as saved,
                 coalesce(sum(delta) filter (where action = 9), 0) as praise
          from old_rows cross join lateral (values (user_id), (0::bigint)) as who(u)
          group by 1, 2, 3) o
    where d.company_id = o.company_id and d.user_id = o.u and d.day = o.day;
    return null;
end $$;

-- Counts already off in an existing installation are set to what the rows say.
update radar_daily d set customer_num = coalesce(s.n, 0)
from radar_daily d2
left join (select company_id, user_id, shanghai_day(create_date) as day, count(*) as n
           from user_customer group by 1, 2, 3) s
  on s.company_id = d2.company_id and s.user_id = d2.user_id and s.day = d2.day
where d.company_id = d2.company_id and d.user_id = d2.user_id and d.day = d2.day
  and d.user_id <> 0 and d.customer_num <> coalesce(s.n, 0);
update radar_daily d set follow_num = coalesce(s.n, 0)
from radar_daily d2
left join (select company_id, u, shanghai_day(create_date) as day, count(*) as n
           from follow_record cross join lateral (values (user_id), (0::bigint)) as who(u)
           group by 1, 2, 3) s
  on s.company_id = d2.company_id and s.u = d2.user_id and s.day = d2.day
where d.company_id = d2.company_id and d.user_id = d2.user_id and d.day = d2.day
  and d.follow_num <> coalesce(s.n, 0);
update radar_daily d set browse_num = coalesce(s.browse, 0), forward_num = coalesce(s.forward, 0),
       saved_num = coalesce(s.saved, 0), praise_num = coalesce(s.praise, 0)
from radar_daily d2
left join (select company_id, u, shanghai_day(create_date) as day,
                  count(*) filter (where action between 1 and 4) as browse,
                  count(*) filter (where action = 6) as forward,
                  count(*) filter (where action = 8) as saved,
                  coalesce(sum(delta) filter (where action = 9), 0) as praise
           from action_log cross join lateral (values (user_id), (0::bigint)) as who(u)
           group by 1, 2, 3) s
  on s.company_id = d2.company_id and s.u = d2.user_id and s.day = d2.day
where d.company_id = d2.company_id and d.user_id = d2.user_id and d.day = d2.day
  and (d.browse_num, d.forward_num, d.saved_num, d.praise_num)
      is distinct from (coalesce(s.browse, 0), coalesce(s.forward, 0), coalesce(s.saved, 0), coalesce(s.praise, 0));
