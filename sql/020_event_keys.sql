-- Issues 11 and 12, cost per event (docs/BENCHMARKS.md, fifth sitting; docs/articles.md,
-- "Event rows and their parents"): the append-only event tables lose their per-row foreign-key
-- checks. Each was one `select … for key share` per inserted row (the article's row is shared
-- by every reader, so concurrent batches also turned its lock into a multixact): 1.1 ms of the
-- 1.7 ms of a 64-row `article_event` insert, 0.73 ms per 64 log rows for `action_log`.
--
-- Integrity is kept by the writer and by these triggers:
-- * the radar writer checks the salesperson, customer and article against the caller's company
--   before it writes, and every event's transaction also writes a row that does keep its key:
--   the relation (`user_customer`, customer key) for every event, and the counters of the
--   article and salesperson (`article_stat`, article key) for every article event. Those rows
--   are deleted with their parent, so a parent's delete and an event's transaction are ordered
--   by that row (its lock or its key check): the event either commits first, and the delete
--   below removes it, or fails;
-- * deleting a customer or an article deletes their event rows in the same statement (and the
--   log's counter trigger counts them down), whoever deletes (API, company delete cascade, SQL);
--   a customer's delete also counts the company's new customers down;
-- * `zhugeleida check-counters` reports any event row whose customer or article is missing.
alter table action_log drop constraint action_log_customer_id_fkey;
alter table article_event drop constraint article_event_article_id_fkey,
                          drop constraint article_event_customer_id_fkey;
alter table article_forward drop constraint article_forward_article_id_fkey,
                            drop constraint article_forward_customer_id_fkey;

-- A deleted customer also leaves the company's "new customers" count (counted on insert by
-- `customer_counters`, sql/005; until now only a company's delete removed customers).
create function customer_drop_events() returns trigger language plpgsql as $$
begin
    update radar_daily d set customer_num = d.customer_num - o.n
    from (select company_id, shanghai_day(create_date) as day, count(*) as n
          from old_rows group by 1, 2) o
    where d.company_id = o.company_id and d.user_id = 0 and d.day = o.day;
    delete from action_log l using old_rows o where l.customer_id = o.id;
    delete from article_event e using old_rows o where e.customer_id = o.id;
    delete from article_forward f using old_rows o where f.customer_id = o.id;
    return null;
end $$;
create trigger customer_drop_events after delete on customer
    referencing old table as old_rows for each statement execute function customer_drop_events();

create function article_drop_events() returns trigger language plpgsql as $$
begin
    delete from article_event e using old_rows o where e.article_id = o.id;
    delete from article_forward f using old_rows o where f.article_id = o.id;
    return null;
end $$;
create trigger article_drop_events after delete on article
    referencing old table as old_rows for each statement execute function article_drop_events();
