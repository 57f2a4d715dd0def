-- Code release to every company's mini program (代小程序, ADM-79..86; docs/wechat-platform.md
-- "Code release"). A batch is one operator action over many apps; it runs in the background
-- and each app's step is a row, so progress is visible while it runs, a node that dies leaves
-- enough to resume (runner lease), and a retry skips what is done.

create table wx_release_batch (
    id            bigserial primary key,
    -- commit | submit | poll | undo | release | revert
    op            text not null,
    started_by    bigint references user_profile(id) on delete set null,
    -- The caller's company (the operator's own for operator batches): batches are visible to
    -- their company's admins and to the operator.
    company_id    bigint not null references company(id) on delete cascade,
    template_id   bigint,
    user_version  text,
    user_desc     text,
    status        text not null default 'running',
    total         integer not null default 0,
    done          integer not null default 0,
    failed        integer not null default 0,
    skipped       integer not null default 0,
    -- The node running the batch renews this while it works; past it another node resumes.
    runner_until  timestamptz not null default now(),
    resumed       integer not null default 0,
    created_at    timestamptz not null default now(),
    finished_at   timestamptz,
    constraint wx_release_batch_op_check check (op in ('commit', 'submit', 'poll', 'undo', 'release', 'revert')),
    constraint wx_release_batch_status_check check (status in ('running', 'done'))
);
create index wx_release_batch_running_idx on wx_release_batch (runner_until) where status = 'running';

-- One app's step in a batch. state: pending → done | skipped | failed.
create table wx_release_item (
    batch_id       bigint not null references wx_release_batch(id) on delete cascade,
    authorizer_id  bigint not null references wx_authorizer(id) on delete cascade,
    company_id     bigint not null references company(id) on delete cascade,
    seq            integer not null,
    state          text not null default 'pending',
    attempts       integer not null default 0,
    errcode        bigint,
    errmsg         text,
    status_after   smallint,
    updated_at     timestamptz not null default now(),
    primary key (batch_id, authorizer_id),
    constraint wx_release_item_state_check check (state in ('pending', 'done', 'skipped', 'failed'))
);
create index wx_release_item_company_idx on wx_release_item (company_id);

-- The live version and the one before it (for the rollback), and the batch last touching
-- the app.
alter table wx_release
    add column live_version       text,
    add column prev_live_version  text,
    add column batch_id           bigint references wx_release_batch(id) on delete set null;
