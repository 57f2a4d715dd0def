-- The company's row of `radar_daily` (user_id 0, one per company and day) was moved by every
-- radar batch: the action log's statement trigger (sql/005) adds the batch's counts to it, so
-- the radar writer's lanes, which otherwise touch disjoint rows (a lane owns its
-- salespeople), queued behind each other on that one row until the holder committed: at
-- 3,000 content views/s, 8 of 43 sampled writer backends waited on it (`Lock:transactionid`)
-- while the other lane flushed its commit (docs/BENCHMARKS.md, seventh sitting). The log's
-- share of the company's day now goes to one of 16 slot rows, user_id -1 - (salesperson % 16):
-- salespeople of different lanes (lane = salesperson % lanes) never share a slot when the
-- lane count divides 16. The company's figures are the sum of its rows with user_id -16..0
-- (db::dashboard); what else writes user 0 (new customers, follow-ups, the deletes' uncounts)
-- still writes it there, and the sum stays true.
create or replace function action_log_counters() returns trigger language plpgsql as $$
begin
    insert into card_counter as c (user_id, company_id, popularity, praise, forward)
    select user_id, min(company_id),
           count(*) filter (where action = 1),
           coalesce(sum(delta) filter (where action = 9), 0),
           count(*) filter (where action = 6)
    from new_rows group by user_id order by user_id
    on conflict (user_id) do update set
        popularity = c.popularity + excluded.popularity,
        praise = c.praise + excluded.praise,
        forward = c.forward + excluded.forward;

    insert into radar_daily as d (company_id, user_id, day, browse_num, forward_num, saved_num, praise_num)
    select company_id, u, shanghai_day(create_date),
           count(*) filter (where action between 1 and 4),
           count(*) filter (where action = 6),
           count(*) filter (where action = 8),
           coalesce(sum(delta) filter (where action = 9), 0)
    from new_rows cross join lateral (values (user_id), (-1 - user_id % 16)) as who(u)
    group by company_id, u, shanghai_day(create_date)
    order by company_id, u, 3
    on conflict (company_id, user_id, day) do update set
        browse_num = d.browse_num + excluded.browse_num,
        forward_num = d.forward_num + excluded.forward_num,
        saved_num = d.saved_num + excluded.saved_num,
        praise_num = d.praise_num + excluded.praise_num;
    return null;
end $$;

-- Deleted log rows leave the counts they were added to: the salesperson's row, and the
-- company's slot, or its user-0 row for a day that has no slot (rows logged before this
-- migration). Updates only: a company's delete reaches here through its customers, and an
-- insert for it would fail its foreign key. A slot may go below zero (a day logged on both
-- sides of the migration): the company's sum stays what the rows say.
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
    from (select company_id, user_id as u, shanghai_day(create_date) as day,
                 count(*) filter (where action between 1 and 4) as browse,
                 count(*) filter (where action = 6) as forward,
                 count(*) filter (where action = 8) as saved,
                 coalesce(sum(delta) filter (where action = 9), 0) as praise
          from old_rows group by 1, 2, 3) o
    where d.company_id = o.company_id and d.user_id = o.u and d.day = o.day;
    with o as (
        select company_id, -1 - user_id % 16 as slot, shanghai_day(create_date) as day,
               count(*) filter (where action between 1 and 4) as browse,
               count(*) filter (where action = 6) as forward,
               count(*) filter (where action = 8) as saved,
               coalesce(sum(delta) filter (where action = 9), 0) as praise
        from old_rows group by 1, 2, 3),
    slotted as (
        update radar_daily d set
            browse_num = d.browse_num - o.browse, forward_num = d.forward_num - o.forward,
            saved_num = d.saved_num - o.saved, praise_num = d.praise_num - o.praise
        from o
        where d.company_id = o.company_id and d.user_id = o.slot and d.day = o.day
        returning o.company_id, o.slot, o.day)
    update radar_daily d set
        browse_num = d.browse_num - m.browse, forward_num = d.forward_num - m.forward,
        saved_num = d.saved_num - m.saved, praise_num = d.praise_num - m.praise
    from (select company_id, day, sum(browse) as browse, sum(forward) as forward,
                 sum(saved) as saved, sum(praise) as praise
          from o
          where not exists (select 1 from slotted s
                            where s.company_id = o.company_id and s.slot = o.slot and s.day = o.day)
          group by 1, 2) m
    where d.company_id = m.company_id and d.user_id = 0 and d.day = m.day;
    return null;
end $$;
