-- Tell every node when an auth record changes, so per-node auth caches drop it
-- (src/auth/cache.rs). Payloads: s:<staff id>, c:<customer id>, k:<company id>.
create function notify_auth() returns trigger language plpgsql as $$
declare
    id bigint;
begin
    if tg_op = 'DELETE' then id := old.id; else id := new.id; end if;
    perform pg_notify('zgld_auth',
        case tg_table_name when 'user_profile' then 's:' when 'customer' then 'c:' else 'k:' end || id);
    return null;
end $$;

create trigger user_profile_auth_notify
    after update of token, token_issued_at, token_last_used_at, status, company_id, role_id or delete
    on user_profile for each row execute function notify_auth();
create trigger customer_auth_notify
    after update of token, token_issued_at, token_last_used_at, company_id or delete
    on customer for each row execute function notify_auth();
create trigger company_auth_notify
    after update of account_expired_time or delete
    on company for each row execute function notify_auth();
