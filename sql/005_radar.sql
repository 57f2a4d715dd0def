-- Issue 4: follow-up records, the radar action log, the counters the card and the dashboards
-- read (maintained by triggers as rows arrive, never by scanning the log), the AI close-rate
-- state of each salesperson <-> customer relation, card photos and the mini-program code.

-- AI close rate (docs/ai-close-rate.md): engagement energy, decayed to `ai_energy_at`.
alter table user_customer
    add column ai_energy     double precision not null default 0,
    add column ai_energy_at  timestamptz;
-- Room for HOT updates: an event rewrites its relation's activity and energy in place when
-- no indexed column changes (last_activity_time moves at most once a minute).
alter table user_customer set (fillfactor = 80);

-- 通讯录 (QYW-41): first pages per sort order straight from an index.
create index user_customer_pr_idx on user_customer (user_id, coalesce(expedted_pr, -1) desc, id desc);
create index user_customer_follow_idx on user_customer (user_id, last_follow_time desc nulls last, id desc);
create index user_customer_activity_idx on user_customer (user_id, last_activity_time desc nulls last, id desc);

-- Follow-up records (the old `user_customer_flowup`): automatic ones from the pipeline
-- updates and free-text ones written by the salesperson.
create table follow_record (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    user_id      bigint not null references user_profile(id) on delete cascade,
    customer_id  bigint not null references customer(id) on delete cascade,
    follow_info  text not null,
    create_date  timestamptz not null default now()
);
create index follow_record_pair_idx on follow_record (customer_id, user_id, id);

-- One row per customer action (API.md 1.10). `delta` is +1, or -1 for a withdrawn praise.
-- Only the customer is a foreign key (a company's deletion cascades through its customers):
-- a company key would make every insert share-lock the one company row, and the writer
-- checks salesperson and customer against the company before inserting; deleting a
-- salesperson deletes their rows explicitly (db::user::delete).
create table action_log (
    id           bigserial primary key,
    company_id   bigint not null,
    user_id      bigint not null,
    customer_id  bigint not null references customer(id) on delete cascade,
    action       smallint not null,
    delta        smallint not null default 1,
    log          text not null,
    is_new       boolean not null default true,
    create_date  timestamptz not null default now(),
    constraint action_log_action_check check (action between 1 and 12),
    constraint action_log_delta_check check (delta in (1, -1))
);
create index action_log_user_idx on action_log (user_id, create_date desc, id desc);
create index action_log_pair_idx on action_log (user_id, customer_id, create_date desc);
create index action_log_new_idx on action_log (user_id, id) where is_new;

-- The card's counters (XCX-02 popularity / praise / forward).
create table card_counter (
    user_id     bigint primary key references user_profile(id) on delete cascade,
    company_id  bigint not null references company(id) on delete cascade,
    popularity  bigint not null default 0,
    praise      bigint not null default 0,
    forward     bigint not null default 0
);

-- Customers per salesperson and source (QYW-41's data_count without counting 100k rows).
create table customer_count (
    user_id  bigint not null references user_profile(id) on delete cascade,
    source   smallint not null,
    n        bigint not null default 0,
    primary key (user_id, source)
);

-- Dashboard counters per Shanghai day, per salesperson and for the company (user_id 0).
create table radar_daily (
    company_id    bigint not null references company(id) on delete cascade,
    user_id       bigint not null,
    day           date not null,
    customer_num  bigint not null default 0,
    follow_num    bigint not null default 0,
    browse_num    bigint not null default 0,
    forward_num   bigint not null default 0,
    saved_num     bigint not null default 0,
    praise_num    bigint not null default 0,
    primary key (company_id, user_id, day)
);

create table user_photo (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    user_id      bigint not null references user_profile(id) on delete cascade,
    url          text not null,
    create_date  timestamptz not null default now()
);
create index user_photo_user_idx on user_photo (user_id, id);

create function shanghai_day(t timestamptz) returns date
    language sql immutable parallel safe
    as $$ select (t at time zone 'Asia/Shanghai')::date $$;

-- Action log -> card counters and daily counters, once per statement (a batch of 512 events
-- is one upsert per salesperson and day, not 512). Browse = actions 1-4, forward = 6,
-- saved = 8, praise = 9 net of withdrawals.
create function action_log_counters() returns trigger language plpgsql as $$
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
    from new_rows cross join lateral (values (user_id), (0::bigint)) as who(u)
    group by company_id, u, shanghai_day(create_date)
    order by company_id, u, 3
    on conflict (company_id, user_id, day) do update set
        browse_num = d.browse_num + excluded.browse_num,
        forward_num = d.forward_num + excluded.forward_num,
        saved_num = d.saved_num + excluded.saved_num,
        praise_num = d.praise_num + excluded.praise_num;
    return null;
end $$;
create trigger action_log_counters after insert on action_log
    referencing new table as new_rows for each statement execute function action_log_counters();

-- Undo the counters of deleted log rows (a deleted customer relation takes its log with it).
create function action_log_uncount() returns trigger language plpgsql as $$
begin
    update card_counter c set
        popularity = c.popularity - o.popularity, praise = c.praise - o.praise, forward = c.forward - o.forward
    from (select user_id,
                 count(*) filter (where action = 1) as popularity,
                 coalesce(sum(delta) filter (where action = 9), 0) as praise,
                 count(*) filter (where action = 6) as forward
          from old_rows group by user_id) o
    where c.user_id = o.user_id;
    return null;
end $$;
create trigger action_log_uncount after delete on action_log
    referencing old table as old_rows for each statement execute function action_log_uncount();

create function follow_record_counters() returns trigger language plpgsql as $$
begin
    insert into radar_daily as d (company_id, user_id, day, follow_num)
    select company_id, u, shanghai_day(create_date), count(*)
    from new_rows cross join lateral (values (user_id), (0::bigint)) as who(u)
    group by company_id, u, shanghai_day(create_date)
    order by 1, 2, 3
    on conflict (company_id, user_id, day) do update set follow_num = d.follow_num + excluded.follow_num;
    return null;
end $$;
create trigger follow_record_counters after insert on follow_record
    referencing new table as new_rows for each statement execute function follow_record_counters();

-- New customers: per salesperson from new relations, for the company from new customer rows.
create function user_customer_counters() returns trigger language plpgsql as $$
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
    end if;
    return null;
end $$;
create trigger user_customer_counters_ins after insert on user_customer
    referencing new table as new_rows for each statement execute function user_customer_counters();
create trigger user_customer_counters_del after delete on user_customer
    referencing old table as old_rows for each statement execute function user_customer_counters();

create function customer_counters() returns trigger language plpgsql as $$
begin
    insert into radar_daily as d (company_id, user_id, day, customer_num)
    select company_id, 0, shanghai_day(create_date), count(*)
    from new_rows group by 1, 3 order by 1, 3
    on conflict (company_id, user_id, day) do update set customer_num = d.customer_num + excluded.customer_num;
    return null;
end $$;
create trigger customer_counters after insert on customer
    referencing new table as new_rows for each statement execute function customer_counters();

-- Existing relations and customers start counted.
insert into customer_count (user_id, source, n)
select user_id, source, count(*) from user_customer group by 1, 2;
insert into radar_daily (company_id, user_id, day, customer_num)
select company_id, user_id, shanghai_day(create_date), count(*) from user_customer group by 1, 2, 3;
insert into radar_daily (company_id, user_id, day, customer_num)
select company_id, 0, shanghai_day(create_date), count(*) from customer group by 1, 3;
