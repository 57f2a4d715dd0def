-- Issue 11 (upload engineer): the card's own content (API.md §8 gap 9). Uploaded images and
-- upload chunks live in the file store (src/storage), not here.
--
-- Every node caches the static part of a card for XCX-02 (service::chat::people); PostgreSQL
-- tells every node when a card changes, as sql/006 does for auth records
-- (src/service/card_cache.rs LISTENs). Payloads: u:<salesperson id>, k:<company id>.
create function notify_card() returns trigger language plpgsql as $$
declare
    payload text;
begin
    if tg_table_name = 'company' then
        if tg_op = 'DELETE' then payload := 'k:' || old.id; else payload := 'k:' || new.id; end if;
    elsif tg_table_name = 'user_photo' then
        if tg_op = 'DELETE' then payload := 'u:' || old.user_id; else payload := 'u:' || new.user_id; end if;
    else
        if tg_op = 'DELETE' then payload := 'u:' || old.id; else payload := 'u:' || new.id; end if;
    end if;
    perform pg_notify('zgld_card', payload);
    return null;
end $$;

create trigger user_profile_card_notify
    after update of username, avatar, company_id, address, position, email, wechat, mingpian_phone, phone, sign
    or delete on user_profile for each row execute function notify_card();
create trigger user_photo_card_notify
    after insert or update or delete on user_photo for each row execute function notify_card();
create trigger company_card_notify
    after update of name or delete on company for each row execute function notify_card();
