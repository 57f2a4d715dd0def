-- Sign-up by QR code (ADM-09/10) and the WeCom contacts sync (ADM-34).

-- A registration credential behind one ADM-09 QR code. The QR URL carries the legacy triple
-- (rand_str, timestamp, user_id) where rand_str = md5(timestamp || token) and token is this
-- row's own secret, never the admin's login token: the triple is accepted by ADM-10 only,
-- only until expires_at, and only while its creator is an enabled admin of the company.
create table registration_code (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    creator_id   bigint not null references user_profile(id) on delete cascade,
    token        text not null,
    timestamp    text not null,
    rand_str     text not null,
    qr_path      text not null,
    expires_at   timestamptz,
    create_date  timestamptz not null default now(),
    constraint registration_code_rand_key unique (rand_str)
);
create index registration_code_creator_idx on registration_code (creator_id);

-- Which staff rows came from the WeCom address book: only those are disabled when they
-- disappear from it; `wecom_left` marks the ones the sync disabled, so a member who
-- returns is enabled again (within the quota) while an admin's own disabling is kept.
alter table user_profile
    add column from_wecom boolean not null default false,
    add column wecom_left boolean not null default false;

-- One run of the contacts sync per row: its progress while it runs, its outcome after.
create table tongxunlu_sync (
    id             bigserial primary key,
    company_id     bigint not null references company(id) on delete cascade,
    started_by     bigint references user_profile(id) on delete set null,
    status         text not null default 'running',
    phase          text not null default 'fetching',
    total          integer not null default 0,
    processed      integer not null default 0,
    departments    integer not null default 0,
    created        integer not null default 0,
    updated        integer not null default 0,
    disabled       integer not null default 0,
    enabled        integer not null default 0,
    unchanged      integer not null default 0,
    over_quota     jsonb not null default '[]',
    error          text,
    started_at     timestamptz not null default now(),
    finished_at    timestamptz,
    constraint tongxunlu_sync_status_check check (status in ('running', 'done', 'failed'))
);
create index tongxunlu_sync_company_idx on tongxunlu_sync (company_id, id desc);
