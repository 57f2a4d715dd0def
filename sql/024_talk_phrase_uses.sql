-- A phrase's `send_num` (ADM-89 `sendNum`) counts the chat messages that sent it, each once:
-- the use is recorded with the count in one statement (src/db/talk.rs::count_send), keyed by
-- the message, so a retry of a send whose count was lost (the message committed by the chat
-- writer, the server gone before the count) counts it then, and a retry whose count was made
-- counts nothing. `check-counters` compares `send_num` with these rows. Uses stay when their
-- message goes (a customer's delete): a count of sends made, not of messages kept.
create table talk_phrase_use (
    message_id  bigint primary key,
    phrase_id   bigint not null references talk_phrase(id) on delete cascade,
    company_id  bigint not null
);
create index talk_phrase_use_phrase_idx on talk_phrase_use (phrase_id);

-- The sends made before this migration, from the messages (the talk send writes
-- `talk_phrase_id` into the message's content; only a number naming a phrase of the message's
-- company counts), and every phrase's count set to them.
insert into talk_phrase_use (message_id, phrase_id, company_id)
select m.id, p.id, p.company_id
from chat_message m
join talk_phrase p
  on p.company_id = m.company_id
 -- the cast only where it cannot fail, whatever order the planner evaluates in
 and p.id = case when jsonb_typeof(m.content->'talk_phrase_id') = 'number'
                      and (m.content->>'talk_phrase_id') ~ '^[0-9]{1,18}$'
                 then (m.content->>'talk_phrase_id')::bigint end
where m.content ? 'talk_phrase_id'
on conflict (message_id) do nothing;
update talk_phrase p set send_num = (select count(*) from talk_phrase_use u where u.phrase_id = p.id);
