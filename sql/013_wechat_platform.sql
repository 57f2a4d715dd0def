-- WeChat open platform (第三方平台): the platform's own credentials, the mini programs and
-- official accounts companies authorize to it, and the code-release state of each mini
-- program (API.md 2.11-2.13, 11.4; docs/wechat-platform.md).

-- One row per component appid: the latest pushed verify ticket and the shared
-- component_access_token. Renewal takes this row FOR UPDATE, so one node renews at a time.
create table wx_component (
    component_appid   text primary key,
    verify_ticket     text,
    ticket_at         timestamptz,
    access_token      text,
    token_expires_at  timestamptz,
    token_renew_at    timestamptz,
    renewals          bigint not null default 0,
    updated_at        timestamptz not null default now()
);

-- A company's authorized account: kind 1 mini program (XcxApp), 2 official account (GzhApp).
-- step: 1 enter appid, 2 grant link, 3 customise info (mini program), 0 done (wire "").
create table wx_authorizer (
    id                 bigserial primary key,
    company_id         bigint not null references company(id) on delete cascade,
    kind               smallint not null,
    appid              text not null,
    step               smallint not null default 2,
    belong_user_id     bigint references user_profile(id) on delete set null,
    authorized         boolean not null default false,
    authorized_at      timestamptz,
    unauthorized_at    timestamptz,
    access_token       text,
    token_expires_at   timestamptz,
    token_renew_at     timestamptz,
    refresh_token      text,
    last_auth_code     text,
    renewals           bigint not null default 0,
    func_ids           integer[] not null default '{}',
    name               text,
    principal_name     text,
    head_img           text,
    introduce          text,
    service_category   text,
    verify_type_info   boolean,
    qrcode_url         text,
    create_date        timestamptz not null default now(),
    constraint wx_authorizer_company_kind_key unique (company_id, kind),
    constraint wx_authorizer_appid_key unique (appid),
    constraint wx_authorizer_kind_check check (kind in (1, 2)),
    constraint wx_authorizer_step_check check (step in (0, 1, 2, 3))
);

-- Code release state of an authorized mini program (API.md 1.10 status 0-12; ADM-79..86).
-- status_time is the last status change; stay_* the audited version awaiting release.
create table wx_release (
    authorizer_id      bigint primary key references wx_authorizer(id) on delete cascade,
    company_id         bigint not null references company(id) on delete cascade,
    status             smallint not null default 0,
    status_time        timestamptz not null default now(),
    template_id        bigint,
    user_version       text,
    user_desc          text,
    experience_qrcode  text,
    auditid            bigint,
    reason             text not null default '',
    version_num        text,
    release_time       timestamptz,
    stay_version_num   text,
    stay_audit_time    timestamptz,
    last_errcode       bigint,
    last_errmsg        text,
    constraint wx_release_status_check check (status between 0 and 12)
);
create index wx_release_company_idx on wx_release (company_id);
