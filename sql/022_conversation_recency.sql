-- A message updates its conversation (seq, unread, time). With `last_message_at` in an index
-- that update could never be HOT: each message added an entry to every index of the table and
-- left a dead row version only VACUUM removes (docs/BENCHMARKS.md, 2026-12-02). The recency
-- index now holds the minute of the last message, which changes at most once a minute per
-- conversation, so the other updates are HOT (pruned in the page, no index entries). Lists
-- order by minute (from the index), then by the exact time within it (an incremental sort).
alter table conversation add column last_message_minute timestamptz;
update conversation set last_message_minute = date_trunc('minute', last_message_at)
    where last_message_at is not null;
drop index conversation_user_recent_idx;
create index conversation_user_recent_idx on conversation (user_id, last_message_minute desc nulls last);
-- room in each page for the new versions of HOT updates
alter table conversation set (fillfactor = 80);
