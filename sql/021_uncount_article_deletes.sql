-- A deleted reader leaves the article counters (docs/articles.md, "How an article spreads"):
-- a customer's delete (plain SQL, or a company's delete by cascade) takes their nodes
-- (`article_access`, on delete cascade) and their forwards (`customer_drop_events`, sql/020),
-- but the counters the radar writer keeps as nodes arrive stayed as they were, so
-- `zhugeleida check-counters` disagreed: `article_stat` (reads, readers, deepest level,
-- reading time, finished, forwards), `article_level`, `article_stay`, and the `reach` /
-- `children` of the deleted nodes' ancestors. Statement triggers with transition tables
-- (as sql/017) count them down in the deleting statement, whoever deletes.
--
-- The deleted node's own readers below it keep their nodes, levels and paths (the path still
-- names the deleted id; nothing reads a node through an ancestor that is gone), so only the
-- ancestors that remain lose what was counted for it: `reach` 1 per deleted node below them,
-- `children` 1 per deleted child. Nodes deleted in the same statement are gone already, so
-- their updates find no row.
create function article_access_uncount() returns trigger language plpgsql as $$
begin
    update article_access a set reach = a.reach - o.reach, children = a.children - o.children
    from (select x.anc as id, count(*)::int as reach,
                 (count(*) filter (where x.ord = cardinality(d.path) - 1))::int as children
          from old_rows d
          cross join lateral unnest(d.path[1:cardinality(d.path) - 1]) with ordinality as x(anc, ord)
          group by 1) o
    where a.id = o.id;
    update article_level l set n = l.n - o.n
    from (select article_id, user_id, level, count(*) as n from old_rows group by 1, 2, 3) o
    where (l.article_id, l.user_id, l.level) = (o.article_id, o.user_id, o.level);
    update article_stay t set n = t.n - o.n
    from (select article_id, user_id,
                 (case when stay_time < 10 then 0 when stay_time < 30 then 1 when stay_time < 60 then 2
                       when stay_time < 120 then 3 when stay_time < 300 then 4 else 5 end)::int2 as bucket,
                 count(*) as n
          from old_rows group by 1, 2, 3) o
    where (t.article_id, t.user_id, t.bucket) = (o.article_id, o.user_id, o.bucket);
    -- The deepest level still read, from the level counts just moved.
    update article_stat s set
        read_count = s.read_count - o.reads, reader_count = s.reader_count - o.readers,
        stay_total = s.stay_total - o.stay, finished = s.finished - o.finished,
        level_num = coalesce((select max(l.level) from article_level l
                              where l.article_id = s.article_id and l.user_id = s.user_id and l.n > 0), 0)
    from (select article_id, user_id, sum(read_count) as reads, count(*) as readers,
                 sum(stay_time) as stay, count(*) filter (where finished) as finished
          from old_rows group by 1, 2) o
    where (s.article_id, s.user_id) = (o.article_id, o.user_id);
    return null;
end $$;
create trigger article_access_uncount after delete on article_access
    referencing old table as old_rows for each statement execute function article_access_uncount();

create function article_forward_uncount() returns trigger language plpgsql as $$
begin
    update article_stat s set forward_count = s.forward_count - o.n
    from (select article_id, user_id, count(*) as n from old_rows group by 1, 2) o
    where (s.article_id, s.user_id) = (o.article_id, o.user_id);
    return null;
end $$;
create trigger article_forward_uncount after delete on article_forward
    referencing old table as old_rows for each statement execute function article_forward_uncount();

-- Counters already off in an existing installation (customers deleted before this migration)
-- are set to what the nodes and forwards say: the scans of `db::article_spread::check`.
update article_access n set reach = coalesce(s.reach, 0), children = coalesce(c.n, 0)
from article_access n2
left join (select x.anc as id, count(*)::int as reach
           from article_access d cross join lateral unnest(d.path[1:cardinality(d.path) - 1]) as x(anc)
           group by 1) s on s.id = n2.id
left join (select parent_id, count(*)::int as n from article_access where parent_id is not null
           group by 1) c on c.parent_id = n2.id
where n.id = n2.id and (n.reach, n.children) is distinct from (coalesce(s.reach, 0), coalesce(c.n, 0));
update article_level l set n = coalesce(s.n, 0)
from article_level l2
left join (select article_id, user_id, level, count(*) as n from article_access group by 1, 2, 3) s
  on (s.article_id, s.user_id, s.level) = (l2.article_id, l2.user_id, l2.level)
where (l.article_id, l.user_id, l.level) = (l2.article_id, l2.user_id, l2.level)
  and l.n <> coalesce(s.n, 0);
update article_stay t set n = coalesce(s.n, 0)
from article_stay t2
left join (select article_id, user_id,
                  (case when stay_time < 10 then 0 when stay_time < 30 then 1 when stay_time < 60 then 2
                        when stay_time < 120 then 3 when stay_time < 300 then 4 else 5 end)::int2 as bucket,
                  count(*) as n
           from article_access group by 1, 2, 3) s
  on (s.article_id, s.user_id, s.bucket) = (t2.article_id, t2.user_id, t2.bucket)
where (t.article_id, t.user_id, t.bucket) = (t2.article_id, t2.user_id, t2.bucket)
  and t.n <> coalesce(s.n, 0);
update article_stat c set
    read_count = coalesce(s.reads, 0), reader_count = coalesce(s.readers, 0),
    level_num = coalesce(s.level_num, 0), stay_total = coalesce(s.stay, 0),
    finished = coalesce(s.finished, 0), forward_count = coalesce(f.n, 0)
from article_stat c2
left join (select article_id, user_id, sum(read_count) as reads, count(*) as readers, max(level) as level_num,
                  sum(stay_time) as stay, count(*) filter (where finished) as finished
           from article_access group by 1, 2) s
  on (s.article_id, s.user_id) = (c2.article_id, c2.user_id)
left join (select article_id, user_id, count(*) as n from article_forward group by 1, 2) f
  on (f.article_id, f.user_id) = (c2.article_id, c2.user_id)
where (c.article_id, c.user_id) = (c2.article_id, c2.user_id)
  and (c.read_count, c.reader_count, c.level_num, c.stay_total, c.finished, c.forward_count)
      is distinct from (coalesce(s.reads, 0), coalesce(s.readers, 0), coalesce(s.level_num, 0::int2),
                        coalesce(s.stay, 0), coalesce(s.finished, 0), coalesce(f.n, 0));
