-- Chat: one conversation per (salesperson, customer) pair with a per-conversation
-- sequence, assigned in the transaction that stores the message (docs/realtime.md).

create table conversation (
    id                  bigserial primary key,
    company_id          bigint not null references company(id) on delete cascade,
    user_id             bigint not null references user_profile(id) on delete cascade,
    customer_id         bigint not null references customer(id) on delete cascade,
    -- highest seq stored so far; the next message gets last_seq + 1
    last_seq            bigint not null default 0,
    last_message_at     timestamptz,
    -- what each side has received/read: messages to the salesperson (send_type 2) with
    -- seq > user_read_seq are unread for the salesperson, and vice versa
    user_read_seq       bigint not null default 0,
    customer_read_seq   bigint not null default 0,
    user_unread         integer not null default 0,
    customer_unread     integer not null default 0,
    create_date         timestamptz not null default now(),
    constraint conversation_pair_key unique (user_id, customer_id)
);
create index conversation_user_recent_idx on conversation (user_id, last_message_at desc nulls last);
create index conversation_customer_idx on conversation (customer_id);

create table chat_message (
    id               bigserial primary key,
    company_id       bigint not null,
    conversation_id  bigint not null references conversation(id) on delete cascade,
    seq              bigint not null,
    user_id          bigint not null,
    customer_id      bigint not null,
    send_type        smallint not null,
    info_type        smallint not null,
    content          jsonb not null,
    client_msg_id    text,
    is_first_info    boolean not null default false,
    create_date      timestamptz not null default now(),
    constraint chat_message_seq_key unique (conversation_id, seq),
    constraint chat_message_send_type_check check (send_type in (1, 2))
);
-- a retried send with the same client id stores one message
create unique index chat_message_client_key on chat_message (conversation_id, send_type, client_msg_id)
    where client_msg_id is not null;
