-- Every node caches what customers open most (a product, the company website, an article as a
-- reader sees it: src/service/content_cache.rs); PostgreSQL tells every node when one of those
-- changes, or anything they show (the product owner's and article author's name and avatar,
-- the company name, article tags), as sql/010 does for cards. Payloads: p:<product>,
-- w:<company>, a:<article>, * (everything).
create function notify_content() returns trigger language plpgsql as $$
declare
    payload text;
begin
    if tg_table_name = 'product' then
        if tg_op = 'DELETE' then payload := 'p:' || old.id; else payload := 'p:' || new.id; end if;
    elsif tg_table_name = 'website' then
        if tg_op = 'DELETE' then payload := 'w:' || old.company_id; else payload := 'w:' || new.company_id; end if;
    elsif tg_table_name = 'company' then
        if tg_op = 'DELETE' then payload := 'w:' || old.id; else payload := 'w:' || new.id; end if;
    elsif tg_table_name = 'article' then
        if tg_op = 'DELETE' then payload := 'a:' || old.id; else payload := 'a:' || new.id; end if;
    elsif tg_table_name = 'article_tag_link' then
        if tg_op = 'DELETE' then payload := 'a:' || old.article_id; else payload := 'a:' || new.article_id; end if;
    else
        payload := '*';
    end if;
    perform pg_notify('zgld_content', payload);
    return null;
end $$;

create trigger product_content_notify
    after update or delete on product for each row execute function notify_content();
create trigger website_content_notify
    after insert or update or delete on website for each row execute function notify_content();
create trigger company_content_notify
    after update of name or delete on company for each row execute function notify_content();
create trigger article_content_notify
    after update or delete on article for each row execute function notify_content();
create trigger article_tag_link_content_notify
    after insert or update or delete on article_tag_link for each row execute function notify_content();
create trigger article_tag_content_notify
    after update of name or delete on article_tag for each row execute function notify_content();
create trigger user_profile_content_notify
    after update of username, avatar or delete on user_profile for each row execute function notify_content();
