\set u random(1, 100)
\set co 1
\set st 1
\set it 1
\set cmid random(1, 2000000000)
\set ord 0
\set hl 604800.0
\set w 1.0
\set wk random(1, 2000000000)
with conv as ( update conversation set last_seq = last_seq + 1, last_message_at = now(), last_message_minute = date_trunc('minute', now()), customer_unread = customer_unread + 1 where user_id = :u::bigint and customer_id = :u::bigint returning id, last_seq ), ins as ( insert into chat_message (id, company_id, conversation_id, seq, user_id, customer_id, send_type, info_type, content, client_msg_id, is_first_info, create_date, write_key) select nextval('chat_message_id_seq'), :co::bigint, c.id, c.last_seq, :u::bigint, :u::bigint, :st::smallint, :it::smallint, '{"info_type":1,"msg":"hello"}'::jsonb, :cmid::text, c.last_seq = 1, now(), :wk::bigint from conv c returning id, conversation_id, seq, create_date, is_first_info, info_type, content ) select :ord::int, false, i.id, i.conversation_id, i.seq, i.create_date, i.is_first_info, i.info_type, i.content from ins i;
