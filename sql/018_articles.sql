-- Issue 12: the article library (ADM-64..72), talk scripts (ADM-89..96), and how articles
-- spread through the official account (GZH-06, GZH-10, GZH-11, QYW-52): one node per reader
-- of an article shared by a salesperson, with a materialised path, so trees, levels and
-- reach are index reads, never recursive walks (docs/articles.md).

create table article_tag (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    name         text not null,
    create_date  timestamptz not null default now(),
    constraint article_tag_name_key unique (company_id, name)
);

-- status 1 已发 (published) / 2 未发; source 1 原创. `read_secs`: seconds a reader needs to
-- reach the end (from the content; domain::article::read_secs).
create table article (
    id            bigserial primary key,
    company_id    bigint not null references company(id) on delete cascade,
    user_id       bigint references user_profile(id) on delete set null,
    title         text not null,
    summary       text not null default '',
    cover_url     text not null default '',
    content       text not null default '',
    insert_ads    text not null default '',
    status        smallint not null default 2,
    source        smallint not null default 1,
    read_secs     integer not null default 10,
    publish_date  timestamptz,
    create_date   timestamptz not null default now(),
    constraint article_status_check check (status in (1, 2))
);
create index article_company_idx on article (company_id, create_date desc, id desc);

create table article_tag_link (
    article_id  bigint not null references article(id) on delete cascade,
    tag_id      bigint not null references article_tag(id) on delete cascade,
    primary key (article_id, tag_id)
);
create index article_tag_link_tag_idx on article_tag_link (tag_id);

-- One node per (article, salesperson who shared it, reader). `path` holds the node ids from
-- the root (a reader who came straight from the salesperson, level 1) down to this node, so
-- the pre-order of a tree is `order by path`, a subtree is a path range, and `level` is
-- `cardinality(path)`. `reach` (readers below) and `children` are kept by the radar writer
-- as nodes arrive (ancestors of a new node +1), so a customer's reach is one row.
-- Ids come from the sequence before the insert (a node's path contains its own id).
create sequence article_access_id_seq;
create table article_access (
    id                bigint primary key,
    company_id        bigint not null,
    article_id        bigint not null references article(id) on delete cascade,
    user_id           bigint not null,
    customer_id       bigint not null references customer(id) on delete cascade,
    parent_id         bigint,
    pid               bigint,
    level             smallint not null,
    path              bigint[] not null,
    read_count        integer not null default 1,
    stay_time         integer not null default 0,
    finished          boolean not null default false,
    reach             integer not null default 0,
    children          integer not null default 0,
    forward_count     integer not null default 0,
    create_date       timestamptz not null default now(),
    last_access_date  timestamptz not null default now(),
    constraint article_access_reader_key unique (article_id, user_id, customer_id),
    constraint article_access_level_check check (level >= 1)
) with (fillfactor = 80);
alter sequence article_access_id_seq owned by article_access.id;
create index article_access_level_idx on article_access (article_id, user_id, level, id);
create index article_access_path_idx on article_access (article_id, user_id, path);
create index article_access_parent_idx on article_access (parent_id) where parent_id is not null;
create index article_access_spreader_idx on article_access (company_id, article_id) where children > 0;
create index article_access_customer_idx on article_access (customer_id);

-- GZH-10: every forward (1 朋友 friend, 2 朋友圈 Moments); `access_id` is the forwarder's node.
create table article_forward (
    id            bigserial primary key,
    company_id    bigint not null,
    article_id    bigint not null references article(id) on delete cascade,
    user_id       bigint not null,
    customer_id   bigint not null references customer(id) on delete cascade,
    access_id     bigint,
    pid           bigint,
    forward_type  smallint not null,
    create_date   timestamptz not null default now(),
    constraint article_forward_type_check check (forward_type in (1, 2))
);
create index article_forward_article_idx on article_forward (article_id, user_id, id);

-- Counters per (article, salesperson), written by the radar writer in the event's
-- transaction; `zhugeleida check-counters` compares them with a scan of the nodes.
create table article_stat (
    article_id     bigint not null references article(id) on delete cascade,
    user_id        bigint not null,
    company_id     bigint not null,
    read_count     bigint not null default 0,
    reader_count   bigint not null default 0,
    forward_count  bigint not null default 0,
    level_num      smallint not null default 0,
    stay_total     bigint not null default 0,
    finished       bigint not null default 0,
    primary key (article_id, user_id)
);
create index article_stat_company_idx on article_stat (company_id, article_id);

-- Readers per level (QYW-52's `count`).
create table article_level (
    article_id  bigint not null references article(id) on delete cascade,
    user_id     bigint not null,
    level       smallint not null,
    n           bigint not null default 0,
    primary key (article_id, user_id, level)
);

-- Readers per reading-time bucket (domain::article::STAY_BUCKETS).
create table article_stay (
    article_id  bigint not null references article(id) on delete cascade,
    user_id     bigint not null,
    bucket      smallint not null,
    n           bigint not null default 0,
    primary key (article_id, user_id, bucket)
);

-- Talk scripts (话术库): groups and phrases per company. A group with phrases cannot be
-- deleted (304). `send_num`: times a salesperson sent the phrase in chat.
create table talk_group (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    user_id      bigint references user_profile(id) on delete set null,
    name         text not null,
    create_date  timestamptz not null default now(),
    constraint talk_group_name_key unique (company_id, name)
);

create table talk_phrase (
    id           bigserial primary key,
    company_id   bigint not null references company(id) on delete cascade,
    group_id     bigint not null references talk_group(id) on delete restrict,
    content      text not null,
    send_num     bigint not null default 0,
    create_date  timestamptz not null default now()
);
create index talk_phrase_group_idx on talk_phrase (group_id, id);
create index talk_phrase_company_idx on talk_phrase (company_id, id);

-- The official account's jsapi_ticket (GZH-09), shared by every node: one row per appid,
-- refreshed by the node that holds the row lock when it is about to expire.
create table wechat_ticket (
    appid       text not null,
    kind        text not null,
    ticket      text not null,
    expires_at  timestamptz not null,
    primary key (appid, kind)
);

-- Every article event the radar writer stored (GZH-06 read, GZH-10 forward, GZH-11 reading
-- time), with its write key and what storing it gave. After a batch fails (its commit may
-- have happened, e.g. the connection dropped before the reply) the writer finds its events
-- here by key and answers them as stored instead of writing them twice (issue 9 item 11, as
-- sql/008 does for card events). `create_date` is the transaction's time: it equals the
-- relation's when the event's batch created it.
create table article_event (
    id            bigserial primary key,
    company_id    bigint not null,
    article_id    bigint not null references article(id) on delete cascade,
    user_id       bigint not null,
    customer_id   bigint not null references customer(id) on delete cascade,
    op            smallint not null,
    write_key     bigint not null,
    access_id     bigint,
    forward_id    bigint,
    level         smallint not null,
    pid           bigint,
    first_visit   boolean not null,
    read_count    integer not null,
    stay_time     integer not null,
    finished_now  boolean not null,
    weight        float8 not null,
    at            timestamptz not null,
    create_date   timestamptz not null default now(),
    constraint article_event_op_check check (op in (1, 2, 3))
);
create index article_event_user_idx on article_event (user_id, create_date);
