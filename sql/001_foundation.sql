-- Foundation schema: tenants (company), staff (user_profile), roles and access rules,
-- departments, customers and the salesperson <-> customer relation.
-- Conventions: lowercase, singular table names, named constraints (the API maps
-- unique-violation names to wire codes), company_id on every tenant-owned row.

create table company (
    id                      bigserial primary key,
    name                    text not null,
    charging_start_time     date,
    open_length_time        smallint,
    account_expired_time    date,
    mingpian_available_num  integer not null default 0,
    remarks                 text,
    corp_id                 text,
    tongxunlu_secret        text,
    tongxunlu_is_validate   boolean not null default false,
    create_date             timestamptz not null default now(),
    constraint company_name_key unique (name),
    constraint company_quota_check check (mingpian_available_num >= 0)
);

-- WeCom apps (agents) of a company: 1 AI雷达, 2 Boss雷达.
create table company_app (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    app_type     smallint not null,
    name         text not null,
    agent_id     bigint not null,
    app_secret   text not null,
    is_validate  boolean not null default false,
    create_date  timestamptz not null default now(),
    constraint company_app_type_key unique (company_id, app_type),
    constraint company_app_type_check check (app_type in (1, 2))
);

create table department (
    id              bigserial primary key,
    company_id      bigint not null references company(id) on delete cascade,
    name            text not null,
    wecom_dept_id   bigint,
    parent_id       bigint references department(id) on delete set null,
    create_date     timestamptz not null default now(),
    constraint department_wecom_key unique (company_id, wecom_dept_id)
);
create index department_company_idx on department (company_id);

-- Access rules (menu entries) are platform-wide: the operator defines them.
create table access_rule (
    id           bigserial primary key,
    name         text not null,
    url_path     text not null default '',
    super_id     bigint references access_rule(id) on delete restrict,
    icon         text,
    order_num    integer,
    create_date  timestamptz not null default now(),
    constraint access_rule_name_key unique (name)
);

-- Roles: ids 1..3 are the system roles (company_id null); companies may add their own.
-- `level` is what the server authorises on: 1 platform operator, 2 company admin, 3 member.
create table role (
    id           bigserial primary key,
    company_id   bigint references company(id) on delete cascade,
    name         text not null,
    level        smallint not null default 3,
    create_date  timestamptz not null default now(),
    constraint role_level_check check (level in (1, 2, 3))
);
create unique index role_name_key on role (coalesce(company_id, 0), name);

create table role_rule (
    role_id  bigint not null references role(id) on delete cascade,
    rule_id  bigint not null references access_rule(id) on delete cascade,
    primary key (role_id, rule_id)
);

insert into role (id, company_id, name, level) values
    (1, null, '超级管理员', 1), (2, null, '管理员', 2), (3, null, '普通用户', 3);
select setval('role_id_seq', 100);

-- Staff: radar users (salespeople) and backend users share one table (API.md 11.1).
create table user_profile (
    id                   bigserial primary key,
    company_id           bigint not null references company(id) on delete restrict,
    role_id              bigint not null references role(id) on delete restrict,
    userid               text not null,
    login_user           text,
    username             text not null,
    password_hash        text,
    is_reset_password    boolean not null default false,
    token                text,
    token_issued_at      timestamptz,
    token_last_used_at   timestamptz,
    status               smallint not null default 1,
    last_login_date      timestamptz,
    avatar               text not null default 'statics/imgs/setAvator.jpg',
    set_avatar           text,
    position             text,
    gender               smallint,
    phone                text,
    mingpian_phone       text,
    wechat               text,
    email                text,
    sign                 text,
    address              text,
    qr_code              text,
    create_date          timestamptz not null default now(),
    constraint user_profile_login_user_key unique (login_user),
    constraint user_profile_userid_key unique (company_id, userid),
    constraint user_profile_status_check check (status in (1, 2))
);
create index user_profile_company_idx on user_profile (company_id, id);

create table user_department (
    user_id        bigint not null references user_profile(id) on delete cascade,
    department_id  bigint not null references department(id) on delete cascade,
    primary key (user_id, department_id)
);

-- Failed password logins, for the per-username limit (5 in 30 minutes).
create table login_failure (
    id          bigserial primary key,
    login_name  text not null,
    failed_at   timestamptz not null default now()
);
create index login_failure_name_idx on login_failure (login_name, failed_at);

-- Customers: the people who open a card in the mini program or official account.
create table customer (
    id                   bigserial primary key,
    company_id           bigint not null references company(id) on delete cascade,
    openid               text not null,
    unionid              text,
    session_key          text,
    username             text,
    headimgurl           text,
    sex                  smallint,
    area                 text,
    user_type            smallint not null default 2,
    superior_id          bigint references customer(id) on delete set null,
    token                text,
    token_issued_at      timestamptz,
    token_last_used_at   timestamptz,
    memo_name            text,
    phone                text,
    email                text,
    company              text,
    position             text,
    address              text,
    birthday             date,
    mem                  text,
    create_date          timestamptz not null default now(),
    constraint customer_openid_key unique (company_id, openid),
    constraint customer_user_type_check check (user_type in (1, 2))
);

-- The salesperson <-> customer relation (belonger), with the sales pipeline fields.
create table user_customer (
    id                   bigserial primary key,
    company_id           bigint not null references company(id) on delete cascade,
    user_id              bigint not null references user_profile(id) on delete cascade,
    customer_id          bigint not null references customer(id) on delete cascade,
    source               smallint not null default 1,
    expected_time        date,
    expedted_pr          smallint,
    ai_pr                smallint not null default 0,
    last_follow_time     timestamptz,
    last_activity_time   timestamptz,
    is_up_down           boolean not null default false,
    create_date          timestamptz not null default now(),
    constraint user_customer_pair_key unique (user_id, customer_id),
    constraint user_customer_source_check check (source in (1, 2))
);
create index user_customer_customer_idx on user_customer (customer_id);
create index user_customer_company_idx on user_customer (company_id);

-- Pending users who registered themselves through an admin's QR code (ADM-05 mode B).
create table temp_user (
    id              bigserial primary key,
    company_id      bigint not null references company(id) on delete cascade,
    creator_id      bigint references user_profile(id) on delete set null,
    username        text not null,
    position        text,
    wechat          text,
    wechat_phone    text,
    mingpian_phone  text,
    create_date     timestamptz not null default now()
);
create index temp_user_company_idx on temp_user (company_id);

create table temp_user_department (
    temp_user_id   bigint not null references temp_user(id) on delete cascade,
    department_id  bigint not null references department(id) on delete cascade,
    primary key (temp_user_id, department_id)
);
