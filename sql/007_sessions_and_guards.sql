-- One session per device (issue 8): every login creates its own token row; the others stay
-- valid until their idle or absolute expiry (docs/auth.md). Tokens move off user_profile and
-- customer into auth_session.
create table auth_session (
    id            bigserial primary key,
    user_id       bigint references user_profile(id) on delete cascade,
    customer_id   bigint references customer(id) on delete cascade,
    token         text not null,
    issued_at     timestamptz not null default now(),
    last_used_at  timestamptz not null default now(),
    -- Set when the session was ended by disabling its user: its token then answers
    -- 306 账户未启用 while the user stays disabled (404 once re-enabled, when the row goes).
    ended_at      timestamptz,
    constraint auth_session_token_key unique (token),
    constraint auth_session_owner_check check ((user_id is null) <> (customer_id is null))
);
create index auth_session_user_idx on auth_session (user_id) where user_id is not null;
create index auth_session_customer_idx on auth_session (customer_id) where customer_id is not null;

insert into auth_session (user_id, token, issued_at, last_used_at)
    select id, token, coalesce(token_issued_at, now()), coalesce(token_last_used_at, token_issued_at, now())
    from user_profile where token is not null;
insert into auth_session (customer_id, token, issued_at, last_used_at)
    select id, token, coalesce(token_issued_at, now()), coalesce(token_last_used_at, token_issued_at, now())
    from customer where token is not null;

drop trigger user_profile_auth_notify on user_profile;
drop trigger customer_auth_notify on customer;
alter table user_profile drop column token, drop column token_issued_at, drop column token_last_used_at;
alter table customer drop column token, drop column token_issued_at, drop column token_last_used_at;
create trigger user_profile_auth_notify
    after update of status, company_id, role_id or delete
    on user_profile for each row execute function notify_auth();
create trigger customer_auth_notify
    after update of company_id or delete
    on customer for each row execute function notify_auth();

-- Session changes reach every node's auth cache (src/auth/cache.rs). A session that ends
-- (deleted, or ended by disabling its user) also closes its WebSockets on every node:
-- payload e:s:<user id>:<session id> or e:c:<customer id>:<session id>.
create function notify_session() returns trigger language plpgsql as $$
declare
    r auth_session;
    who text;
begin
    if tg_op = 'DELETE' then r := old; else r := new; end if;
    if r.user_id is not null then who := 's:' || r.user_id; else who := 'c:' || r.customer_id; end if;
    if tg_op = 'DELETE' or (tg_op = 'UPDATE' and old.ended_at is null and new.ended_at is not null) then
        perform pg_notify('zgld_auth', 'e:' || who || ':' || r.id);
    else
        perform pg_notify('zgld_auth', who);
    end if;
    return null;
end $$;
create trigger auth_session_notify
    after insert or update or delete on auth_session
    for each row execute function notify_session();

-- Disabling a user ends all of their sessions, whoever disables it (API, CLI or SQL);
-- enabling it again removes those ended sessions, so they never come back to life.
create function sessions_follow_status() returns trigger language plpgsql as $$
begin
    if new.status <> 1 then
        update auth_session set ended_at = now() where user_id = new.id and ended_at is null;
    else
        delete from auth_session where user_id = new.id and ended_at is not null;
    end if;
    return null;
end $$;
create trigger user_profile_status_sessions
    after update of status on user_profile for each row
    when (old.status is distinct from new.status)
    execute function sessions_follow_status();

-- Spent signatures of state-changing requests (issue 8 defect 3): a signed write never
-- succeeds twice, on any node, whether Redis is up, restarted empty or absent. A row lives
-- until the signature's timestamp has left the freshness window (src/auth/replay.rs).
create table spent_signature (
    kind          text not null,
    principal_id  bigint not null,
    signature     text not null,
    expires_at    timestamptz not null,
    constraint spent_signature_pkey primary key (kind, principal_id, signature)
);
create index spent_signature_expires_idx on spent_signature (expires_at);

-- The login throttle (issue 8 defect 7): attempts counted atomically per key before the
-- password is checked; keys are `a:<login>|<address>` (an account from one client address)
-- and `ip:<address>` (all accounts from one address). See docs/auth.md.
drop table login_failure;
create table login_throttle (
    key           text primary key,
    attempts      integer not null,
    window_start  timestamptz not null
);
