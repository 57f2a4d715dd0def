-- Issue 11: what customers see. Products and feedback (ADM-11..19), the company website and
-- its templates (ADM-39..44), plugins: cards, sign-up activities with their sign-ups, goods
-- (ADM-51..63). Every row carries its company; rich content is stored verbatim as JSON text
-- (API.md 1.11) after validation.

-- Products (API.md 11.3). `cover_data` is the `cover_data` member of `content`, kept apart so
-- the list (ADM-11) never parses whole contents. `on_shelf` (status 1 or 3, A-14) is what the
-- default filter reads, so both the default and `status=2` are index ranges.
create table product (
    id               bigserial primary key,
    company_id       bigint not null references company(id) on delete cascade,
    user_id          bigint references user_profile(id) on delete set null,
    product_type     smallint not null,
    name             text not null,
    price            text not null,
    reason           text not null,
    content          text not null default '{}',
    cover_data       text not null default '[]',
    status           smallint not null default 1,
    recommend_index  smallint not null default 0,
    on_shelf         boolean generated always as (status <> 2) stored,
    create_date      timestamptz not null default now(),
    constraint product_type_check check (product_type in (1, 2)),
    constraint product_status_check check (status in (1, 2, 3)),
    constraint product_recommend_index_check check (recommend_index between 0 and 10)
);
-- ADM-11's order (recommend_index desc, newest first) within company, type and shelf.
create index product_list_idx on product (company_id, product_type, on_shelf, recommend_index desc, id desc);
-- A member's own personal products.
create index product_owner_idx on product (user_id, product_type, on_shelf, recommend_index desc, id desc);
-- `product_name` keyword (fuzzy = contains).
create extension if not exists pg_trgm;
create index product_name_trgm_idx on product using gin (name gin_trgm_ops);

-- Feedback (意见反馈) from a salesperson (user_id) or a customer (customer_id).
create table feedback (
    id            bigserial primary key,
    company_id    bigint not null references company(id) on delete cascade,
    user_id       bigint references user_profile(id) on delete set null,
    customer_id   bigint references customer(id) on delete set null,
    problem_type  smallint not null default 1,
    content       text not null,
    status        smallint not null default 1,
    create_date   timestamptz not null default now(),
    constraint feedback_status_check check (status in (1, 2))
);
create index feedback_company_idx on feedback (company_id, status, id desc);
create index feedback_status_idx on feedback (status, id desc);

-- The website (官网): one per company (A-34).
create table website (
    company_id       bigint primary key references company(id) on delete cascade,
    website_content  text not null default '[]',
    create_date      timestamptz not null default now(),
    update_date      timestamptz not null default now()
);

create table website_template (
    id                bigserial primary key,
    company_id        bigint not null references company(id) on delete cascade,
    name              text not null default '',
    template_content  text not null default '[]',
    create_date       timestamptz not null default now()
);
create index website_template_company_idx on website_template (company_id, id desc);

-- Plugin cards (插件名片).
create table plugin_mingpian (
    id            bigserial primary key,
    company_id    bigint not null references company(id) on delete cascade,
    user_id       bigint references user_profile(id) on delete set null,
    name          text not null default '',
    avatar        text not null default '',
    username      text not null default '',
    phone         text not null default '',
    webchat_code  text not null default '',
    position      text not null default '',
    create_date   timestamptz not null default now()
);
create index plugin_mingpian_company_idx on plugin_mingpian (company_id, id desc);

-- Sign-up activities (报名活动). `join_num` is counted from the sign-ups, never stored.
create table plugin_report (
    id                 bigserial primary key,
    company_id         bigint not null references company(id) on delete cascade,
    user_id            bigint references user_profile(id) on delete set null,
    title              text not null default '',
    ad_slogan          text not null default '',
    sign_up_button     text not null default '',
    introduce          text not null default '',
    is_get_phone_code  boolean not null default false,
    leave_message      text not null default '',
    skip_link          text not null default '',
    read_count         bigint not null default 0,
    create_date        timestamptz not null default now()
);
create index plugin_report_company_idx on plugin_report (company_id, id desc);

create table activity_signup (
    id                 bigserial primary key,
    company_id         bigint not null references company(id) on delete cascade,
    activity_id        bigint not null references plugin_report(id) on delete cascade,
    customer_id        bigint references customer(id) on delete set null,
    user_id            bigint references user_profile(id) on delete set null,
    customer_name      text not null,
    phone              text not null,
    phone_verify_code  text,
    leave_message      text not null default '',
    sign_up_time       timestamptz not null default now()
);
create index activity_signup_activity_idx on activity_signup (activity_id, id);

-- Goods (商品).
create table plugin_goods (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    user_id      bigint references user_profile(id) on delete set null,
    title        text not null,
    content      text not null default '{}',
    create_date  timestamptz not null default now()
);
create index plugin_goods_company_idx on plugin_goods (company_id, id desc);
