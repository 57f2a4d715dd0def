//! Chat storage: conversations with their sequence counters and read pointers, and messages.
//! Writes come in batches from the chat writer (`service::chat::writer`); a batch is one
//! transaction that locks its conversations in id order, so seqs are gap-free across nodes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::Value;
use tokio_postgres::Row;

use crate::error::ApiError;

/// `send_type` 1: salesperson → customer.
pub const TO_CUSTOMER: i16 = 1;
/// `send_type` 2: customer → salesperson.
pub const TO_USER: i16 = 2;

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub company_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub send_type: i16,
    pub info_type: i16,
    /// The content object, stored verbatim.
    pub content: Value,
    /// The sender's idempotency key.
    pub client_msg_id: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub conversation_id: i64,
    pub seq: i64,
    pub company_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub send_type: i16,
    pub info_type: i16,
    pub content: Value,
    pub client_msg_id: Option<String>,
    pub is_first_info: bool,
    pub create_date: DateTime<Utc>,
}

const COLS: &str = "m.id, m.conversation_id, m.seq, m.company_id, m.user_id, m.customer_id, m.send_type, m.info_type,
    m.content, m.client_msg_id, m.is_first_info, m.create_date";

fn message(r: &Row) -> Message {
    Message {
        id: r.get(0),
        conversation_id: r.get(1),
        seq: r.get(2),
        company_id: r.get(3),
        user_id: r.get(4),
        customer_id: r.get(5),
        send_type: r.get(6),
        info_type: r.get(7),
        content: r.get(8),
        client_msg_id: r.get(9),
        is_first_info: r.get(10),
        create_date: r.get(11),
    }
}

/// What storing one message gave: the row, and whether it was already there (a retry).
#[derive(Debug, Clone)]
pub struct Stored {
    pub message: Message,
    pub duplicate: bool,
}

/// Stores a batch in **one statement** (its own implicit transaction: one round trip and
/// one commit for the whole batch). Conversations are created or locked in (user, customer)
/// order, so concurrent batches on any node never deadlock and seqs stay gap-free. A message
/// whose client id is already stored comes back as a duplicate; two copies inside one batch
/// are folded by the caller. Results are in input order.
pub async fn store_batch(
    db: &deadpool_postgres::Client,
    batch: &[NewMessage],
) -> Result<Vec<Stored>, ApiError> {
    let keys: Vec<i64> = batch.iter().map(|_| rand::random()).collect();
    store_batch_keyed(db, batch, &keys).await
}

/// [`store_batch`] with each message's write key (`keys[i]` for `batch[i]`), by which
/// [`stored_by_key`] finds it after a failure.
pub async fn store_batch_keyed(
    db: &deadpool_postgres::Client,
    batch: &[NewMessage],
    keys: &[i64],
) -> Result<Vec<Stored>, ApiError> {
    // Fold in-batch duplicates: every copy after the first points at the first.
    let mut first_of: HashMap<(i64, i64, i16, &str), usize> = HashMap::new();
    let mut unique: Vec<usize> = Vec::with_capacity(batch.len());
    let mut alias: Vec<usize> = Vec::with_capacity(batch.len());
    for (i, m) in batch.iter().enumerate() {
        if let Some(cid) = m.client_msg_id.as_deref() {
            let key = (m.user_id, m.customer_id, m.send_type, cid);
            if let Some(&j) = first_of.get(&key) {
                alias.push(j);
                continue;
            }
            first_of.insert(key, unique.len());
        }
        alias.push(unique.len());
        unique.push(i);
    }
    let n = unique.len();
    let mut cols: Columns = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (ord, &i) in unique.iter().enumerate() {
        let Some(m) = batch.get(i) else { continue };
        cols.0.push(m.company_id);
        cols.1.push(m.user_id);
        cols.2.push(m.customer_id);
        cols.3.push(m.send_type);
        cols.4.push(m.info_type);
        cols.5.push(m.content.clone());
        cols.6.push(m.client_msg_id.clone());
        cols.7.push(ord as i32);
        cols.8
            .push(keys.get(i).copied().unwrap_or_else(rand::random));
    }
    let half_life = crate::domain::ai::HALF_LIFE_SECS;
    let weight = crate::domain::ai::weight(crate::domain::ai::Signal::CustomerMessage);
    // A copy of a retried message committed by another node between this statement's
    // snapshot and its insert breaks the client-id key: the statement rolled back entirely
    // (no seq spent); run it again, its fresh snapshot finds the copy (a duplicate).
    let mut attempt = 0;
    let rows = loop {
        match statement(db, &cols, n, half_life, weight).await {
            Ok(rows) => break rows,
            Err(e) if attempt < 3 && is_client_key_conflict(&e) => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    };

    let mut by_ord: Vec<Option<Stored>> = vec![None; n];
    for r in &rows {
        let ord: i32 = r.get(0);
        let Some(&i) = unique.get(ord as usize) else {
            continue;
        };
        let Some(m) = batch.get(i) else { continue };
        let stored = Stored {
            duplicate: r.get(1),
            message: Message {
                id: r.get(2),
                conversation_id: r.get(3),
                seq: r.get(4),
                company_id: m.company_id,
                user_id: m.user_id,
                customer_id: m.customer_id,
                send_type: m.send_type,
                info_type: r.get(7),
                content: r.get(8),
                client_msg_id: m.client_msg_id.clone(),
                is_first_info: r.get(6),
                create_date: r.get(5),
            },
        };
        if let Some(slot) = by_ord.get_mut(ord as usize) {
            *slot = Some(stored);
        }
    }
    let mut out = Vec::with_capacity(batch.len());
    for (i, &j) in alias.iter().enumerate() {
        let mut s = by_ord.get(j).cloned().flatten().ok_or_else(|| {
            ApiError::Unexpected(anyhow::anyhow!("message {i} of the batch was not stored"))
        })?;
        if unique.get(j) != Some(&i) {
            s.duplicate = true;
        }
        out.push(s);
    }
    Ok(out)
}

/// After a failed batch: the messages stored under `keys` (`None` for those not stored; a
/// retried client id that was already stored before is not, and its retry answers it as a
/// duplicate). Locks the batch's conversations first, so a batch still committing is waited
/// for: the answer is final.
pub async fn stored_by_key(
    db: &mut deadpool_postgres::Client,
    batch: &[NewMessage],
    keys: &[i64],
) -> Result<Vec<Option<Stored>>, ApiError> {
    let (us, cs): (Vec<i64>, Vec<i64>) = batch.iter().map(|m| (m.user_id, m.customer_id)).unzip();
    let tx = db.transaction().await?;
    tx.query(
        "select c.id from conversation c join unnest($1::int8[], $2::int8[]) as t(u, k)
           on c.user_id = t.u and c.customer_id = t.k order by c.id for update of c",
        &[&us, &cs],
    )
    .await?;
    let rows = tx
        .query(
            "select m.write_key, m.id, m.conversation_id, m.seq, m.create_date, m.is_first_info, m.info_type, m.content
             from conversation c join chat_message m on m.conversation_id = c.id
             where (c.user_id, c.customer_id) in (select * from unnest($1::int8[], $2::int8[]))
               and m.seq > c.last_seq - 100000 and m.write_key = any($3)",
            &[&us, &cs, &keys],
        )
        .await?;
    tx.commit().await?;
    let by_key: HashMap<i64, &Row> = rows.iter().map(|r| (r.get::<_, i64>(0), r)).collect();
    Ok(batch
        .iter()
        .zip(keys)
        .map(|(m, k)| {
            by_key.get(k).map(|r| Stored {
                duplicate: false,
                message: Message {
                    id: r.get(1),
                    conversation_id: r.get(2),
                    seq: r.get(3),
                    company_id: m.company_id,
                    user_id: m.user_id,
                    customer_id: m.customer_id,
                    send_type: m.send_type,
                    info_type: r.get(6),
                    content: r.get(7),
                    client_msg_id: m.client_msg_id.clone(),
                    is_first_info: r.get(5),
                    create_date: r.get(4),
                },
            })
        })
        .collect())
}

/// The client-id key (`chat_message_client_key`) was broken by a concurrent copy.
fn is_client_key_conflict(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|d| {
        d.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && d.constraint() == Some("chat_message_client_key")
    })
}

/// Runs the batch statement: the scalar form for one message, the array form for more.
async fn statement(
    db: &deadpool_postgres::Client,
    cols: &Columns,
    n: usize,
    half_life: f64,
    weight: f64,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    if let ([c], [u], [k], [st], [it], [content], [cid], [ord], [wk]) = (
        &cols.0[..],
        &cols.1[..],
        &cols.2[..],
        &cols.3[..],
        &cols.4[..],
        &cols.5[..],
        &cols.6[..],
        &cols.7[..],
        &cols.8[..],
    ) {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] =
            [c, u, k, st, it, content, cid, ord, &half_life, &weight, wk];
        let fresh = if *st == TO_USER {
            &*STORE_ONE_FRESH_TO_USER
        } else {
            &*STORE_ONE_FRESH_TO_CUSTOMER
        };
        let stmt = db.prepare_typed_cached(fresh, &STORE_ONE_TYPES).await?;
        match db.query(&stmt, &params).await {
            Err(e) if is_client_key_conflict(&e) => {
                let stmt = db
                    .prepare_typed_cached(&STORE_ONE, &STORE_ONE_TYPES)
                    .await?;
                db.query(&stmt, &params).await
            }
            other => other,
        }
    } else {
        store_many(db, cols, n, half_life, weight).await
    }
}

/// From this many messages on, a batch is planned for its size (docs/BENCHMARKS.md).
const CUSTOM_PLAN_FROM: usize = 16;

/// The batch statement of [`store_batch`]; `$8` is each message's position.
/// A batch as columns, in `STORE`'s parameter order.
type Columns = (
    Vec<i64>,
    Vec<i64>,
    Vec<i64>,
    Vec<i16>,
    Vec<i16>,
    Vec<Value>,
    Vec<Option<String>>,
    Vec<i32>,
    Vec<i64>,
);

async fn store_many(
    db: &deadpool_postgres::Client,
    cols: &Columns,
    n: usize,
    half_life: f64,
    weight: f64,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let stmt = db.prepare_cached(&STORE).await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
        &cols.0, &cols.1, &cols.2, &cols.3, &cols.4, &cols.5, &cols.6, &cols.7, &half_life,
        &weight, &cols.8,
    ];
    Ok(if n >= CUSTOM_PLAN_FROM {
        // Large batches: PostgreSQL's cached generic plan joins the CTEs with nested loops
        // (quadratic in the batch); a custom plan costs ~3 ms to make and runs 3x faster.
        // SET, query and RESET are pipelined: one round trip. (Small batches keep PostgreSQL's
        // own choice: a forced generic plan measured worse there, p50 2.9 ms against 2.1 ms at
        // 1,000 msg/s, as it cannot see that the arrays hold one or two rows.)
        let (set, rows, reset) = tokio::join!(
            db.batch_execute("set plan_cache_mode = force_custom_plan"),
            db.query(&stmt, &params),
            db.batch_execute("reset plan_cache_mode"),
        );
        set?;
        reset?;
        rows?
    } else {
        db.query(&stmt, &params).await?
    })
}

/// The batch's input rows (arrays, one element per message).
const INPUT_MANY: &str = "
with input as (
    select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[], $5::smallint[], $6::jsonb[],
        $7::text[], $8::int[], $11::bigint[]) as t(company_id, user_id, customer_id, send_type, info_type, content,
        client_msg_id, ord, write_key)
),";

static STORE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("{INPUT_MANY}{STORE_REST}").replace("{ACTIVITY}", ACTIVITY)
});

/// One message (the common case at light load), with [`STORE`]'s parameters and result
/// columns: the same writes without the batch's grouping, numbering and anti-join, so its plan
/// has a third of the nodes to start per run (PostgreSQL's execution 0.36–0.41 ms against
/// 0.54–0.73 ms; docs/BENCHMARKS.md, 2026-12-02). Its generic plan uses the indexes, so
/// PostgreSQL caches it after five runs.
const STORE_ONE_DUP: &str = "dup as (
    -- a retry: the client id already stored in this conversation
    select m.id, m.conversation_id, m.seq, m.create_date, m.is_first_info, m.info_type, m.content
    from conversation c0 join chat_message m on m.conversation_id = c0.id
    where c0.user_id = $2::bigint and c0.customer_id = $3::bigint and m.send_type = $4::smallint
      and m.client_msg_id = $7::text and $7::text is not null
    limit 1
)";

/// [`STORE_ONE`]'s writes: the conversation's seq and counters, then the message. `{GUARD}`
/// skips them when the statement found the client id already stored.
const STORE_ONE_WRITE: &str = "conv as (
    insert into conversation (company_id, user_id, customer_id, last_seq, last_message_at, last_message_minute,
        user_unread, customer_unread)
    select $1::bigint, $2::bigint, $3::bigint, 1, now(), date_trunc('minute', now()),
        ($4::smallint = 2)::int, ($4::smallint = 1)::int
{GUARD}    on conflict on constraint conversation_pair_key do update set
        last_seq = conversation.last_seq + 1, last_message_at = now(),
        last_message_minute = excluded.last_message_minute,
        user_unread = conversation.user_unread + excluded.user_unread,
        customer_unread = conversation.customer_unread + excluded.customer_unread
    returning id, last_seq
),
ins as (
    insert into chat_message (id, company_id, conversation_id, seq, user_id, customer_id, send_type, info_type,
        content, client_msg_id, is_first_info, create_date, write_key)
    select nextval('chat_message_id_seq'), $1::bigint, c.id, c.last_seq, $2::bigint, $3::bigint, $4::smallint,
        $5::smallint, $6::jsonb, $7::text, c.last_seq = 1, now(), $11::bigint
    from conv c
    returning id, conversation_id, seq, create_date, is_first_info, info_type, content
)";

/// A customer's message is activity and AI energy (`$4` = 2).
const STORE_ONE_ACTIVE: &str = "active as (
    -- as in STORE: a customer's message is activity and AI energy
    update user_customer uc set {ACTIVITY}(1)
    where uc.user_id = $2::bigint and uc.customer_id = $3::bigint and $4::smallint = 2
      and exists (select 1 from conv)
    returning uc.id
)";

const STORE_ONE_NEW: &str = "
select $8::int, false, i.id, i.conversation_id, i.seq, i.create_date, i.is_first_info, i.info_type, i.content
from ins i
";

const STORE_ONE_DUPLICATE: &str = "union all
select $8::int, true, d.id, d.conversation_id, d.seq, d.create_date, d.is_first_info, d.info_type, d.content
from dup d
";

/// The complete statement: looks the client id up first, so a retry comes back as a duplicate.
static STORE_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let write = STORE_ONE_WRITE.replace("{GUARD}", "    where not exists (select 1 from dup)\n");
    format!(
        "with {STORE_ONE_DUP},\n{write},\n{STORE_ONE_ACTIVE}{STORE_ONE_NEW}{STORE_ONE_DUPLICATE}"
    )
    .replace("{ACTIVITY}", ACTIVITY)
});

/// The first try for one message: the writes without the client-id lookup (a fifth of the
/// statement's time; a retry is rare). A retry of a stored message breaks the client-id key,
/// which rolls the whole statement back (no seq spent); [`STORE_ONE`] then answers it as a
/// duplicate. A salesperson's message (`send_type` 1) leaves out the relation update too,
/// whose plan nodes PostgreSQL would set up on every run (docs/BENCHMARKS.md, eighth sitting).
static STORE_ONE_FRESH_TO_USER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let write = STORE_ONE_WRITE.replace("{GUARD}", "");
    format!("with {write},\n{STORE_ONE_ACTIVE}{STORE_ONE_NEW}").replace("{ACTIVITY}", ACTIVITY)
});
static STORE_ONE_FRESH_TO_CUSTOMER: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let write = STORE_ONE_WRITE.replace("{GUARD}", "");
    format!("with {write}{STORE_ONE_NEW}")
});

/// The parameter types of the single-message statements (some leave `$7`, `$9` or `$10` out).
const STORE_ONE_TYPES: [tokio_postgres::types::Type; 11] = {
    use tokio_postgres::types::Type;
    [
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT2,
        Type::INT2,
        Type::JSONB,
        Type::TEXT,
        Type::INT4,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT8,
    ]
};

/// The relation's activity and AI energy after the customer's messages (docs/ai-close-rate.md),
/// one SET list for both statements; `(n)` that follows it is the number of messages. Minute
/// precision keeps the update HOT, as for radar events.
const ACTIVITY: &str = "
        last_activity_time = case when uc.last_activity_time > now() - interval '1 minute'
                                  then uc.last_activity_time else now() end,
        ai_energy_at = now(),
        ai_energy = uc.ai_energy * power(0.5, greatest(0, extract(epoch from now() - coalesce(uc.ai_energy_at, now()))) / $9::float8)
                    + $10::float8 * ";

/// Everything after the input: the same for one message and for many.
const STORE_REST: &str = "
dup as (
    -- one index probe per message that carries a client id (the partial unique index)
    select i.ord, m.id, m.conversation_id, m.seq, m.create_date, m.is_first_info, m.info_type, m.content
    from input i
    cross join lateral (
        select c0.id from conversation c0 where c0.user_id = i.user_id and c0.customer_id = i.customer_id limit 1
    ) c0
    cross join lateral (
        select * from chat_message m
        where m.conversation_id = c0.id and m.send_type = i.send_type
          and m.client_msg_id = i.client_msg_id and m.client_msg_id is not null
        limit 1
    ) m
    where i.client_msg_id is not null
),
newin as (
    select i.* from input i where not exists (select 1 from dup d where d.ord = i.ord)
),
counts as (
    select company_id, user_id, customer_id, count(*)::bigint as n,
        (count(*) filter (where send_type = 2))::int as tu, (count(*) filter (where send_type = 1))::int as tc
    from newin group by company_id, user_id, customer_id
),
conv as (
    insert into conversation (company_id, user_id, customer_id, last_seq, last_message_at, last_message_minute,
        user_unread, customer_unread)
    select company_id, user_id, customer_id, n, now(), date_trunc('minute', now()), tu, tc from counts
    order by user_id, customer_id
    on conflict on constraint conversation_pair_key do update set
        last_seq = conversation.last_seq + excluded.last_seq, last_message_at = now(),
        last_message_minute = excluded.last_message_minute,
        user_unread = conversation.user_unread + excluded.user_unread,
        customer_unread = conversation.customer_unread + excluded.customer_unread
    returning id, user_id, customer_id, last_seq
),
fresh as (
    select n.*, c.id as conversation_id, nextval('chat_message_id_seq') as id, now() as create_date,
        c.last_seq - k.n + row_number() over (partition by c.id order by n.ord) as seq
    from newin n
    join conv c on c.user_id = n.user_id and c.customer_id = n.customer_id
    join counts k on k.user_id = n.user_id and k.customer_id = n.customer_id
),
ins as (
    insert into chat_message (id, company_id, conversation_id, seq, user_id, customer_id, send_type, info_type,
        content, client_msg_id, is_first_info, create_date, write_key)
    select id, company_id, conversation_id, seq, user_id, customer_id, send_type, info_type, content, client_msg_id,
        seq = 1, create_date, write_key
    from fresh
),
active as (
    -- the customer's messages are activity and AI energy (docs/ai-close-rate.md); minute
    -- precision keeps the update HOT, as for radar events
    update user_customer uc set {ACTIVITY}(t.n)
    from (select user_id, customer_id, count(*) as n from newin where send_type = 2 group by 1, 2) t
    where uc.user_id = t.user_id and uc.customer_id = t.customer_id
    returning uc.id
)
select f.ord, false, f.id, f.conversation_id, f.seq, f.create_date, f.seq = 1, f.info_type, f.content
from fresh f
union all
select d.ord, true, d.id, d.conversation_id, d.seq, d.create_date, d.is_first_info, d.info_type, d.content from dup d
";

/// A conversation's identity and counters.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: i64,
    pub company_id: i64,
    pub user_id: i64,
    pub customer_id: i64,
    pub last_seq: i64,
    pub user_read_seq: i64,
    pub customer_read_seq: i64,
    pub user_unread: i32,
    pub customer_unread: i32,
    pub last_message_at: Option<DateTime<Utc>>,
}

const CONV: &str =
    "select id, company_id, user_id, customer_id, last_seq, user_read_seq, customer_read_seq,
    user_unread, customer_unread, last_message_at from conversation";

fn conversation(r: &Row) -> Conversation {
    Conversation {
        id: r.get(0),
        company_id: r.get(1),
        user_id: r.get(2),
        customer_id: r.get(3),
        last_seq: r.get(4),
        user_read_seq: r.get(5),
        customer_read_seq: r.get(6),
        user_unread: r.get(7),
        customer_unread: r.get(8),
        last_message_at: r.get(9),
    }
}

pub async fn conversation_of(
    db: &impl GenericClient,
    user_id: i64,
    customer_id: i64,
) -> Result<Option<Conversation>, ApiError> {
    Ok(super::opt_cached(
        db,
        &format!("{CONV} where user_id = $1 and customer_id = $2"),
        &[&user_id, &customer_id],
    )
    .await?
    .as_ref()
    .map(conversation))
}

pub async fn conversation_by_id(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<Conversation>, ApiError> {
    Ok(db
        .query_opt(&format!("{CONV} where id = $1"), &[&id])
        .await?
        .as_ref()
        .map(conversation))
}

/// Conversations of one side (`by_user` = salesperson), most recent first, at most `limit`.
pub async fn conversations(
    db: &impl GenericClient,
    id: i64,
    by_user: bool,
    limit: i64,
) -> Result<Vec<Conversation>, ApiError> {
    let col = if by_user { "user_id" } else { "customer_id" };
    let sql = format!("{CONV} where {col} = $1 and last_seq > 0 order by last_message_minute desc nulls last, last_message_at desc nulls last, id desc limit $2");
    Ok(db
        .query(&sql, &[&id, &limit])
        .await?
        .iter()
        .map(conversation)
        .collect())
}

/// Messages of a conversation after `seq`, oldest first, at most `limit`.
pub async fn since(
    db: &impl GenericClient,
    conversation_id: i64,
    seq: i64,
    limit: i64,
) -> Result<Vec<Message>, ApiError> {
    let sql = format!("select {COLS} from chat_message m where m.conversation_id = $1 and m.seq > $2 order by m.seq limit $3");
    Ok(db
        .query(&sql, &[&conversation_id, &seq, &limit])
        .await?
        .iter()
        .map(message)
        .collect())
}

/// Which page of a conversation's history (newest first): `offset`/`limit` as the legacy
/// `current_page`/`length`, counted among the messages before `before_seq` when it is given
/// (a cursor that new messages do not shift; docs/realtime.md, "reload").
#[derive(Debug, Clone, Copy)]
pub struct History {
    pub offset: i64,
    pub limit: i64,
    pub before_seq: Option<i64>,
}

/// A page of a conversation's history, newest first.
pub async fn history(
    db: &impl GenericClient,
    conversation_id: i64,
    page: History,
) -> Result<Vec<Message>, ApiError> {
    let sql = format!(
        "select {COLS} from chat_message m where m.conversation_id = $1 and m.seq < $4
         order by m.seq desc limit $2 offset $3"
    );
    let before = page.before_seq.unwrap_or(i64::MAX);
    Ok(db
        .query(
            &sql,
            &[&conversation_id, &page.limit, &page.offset, &before],
        )
        .await?
        .iter()
        .map(message)
        .collect())
}

/// One side of a conversation: its unread counter, its read pointer, and the `send_type` of
/// the messages addressed to it (`to_user` = the salesperson).
fn side(to_user: bool) -> (&'static str, &'static str, i16) {
    if to_user {
        ("user_unread", "user_read_seq", TO_USER)
    } else {
        ("customer_unread", "customer_read_seq", TO_CUSTOMER)
    }
}

/// The unread messages addressed to one side of a pair, newest first, marked read in the
/// same statement set (QYW-36, GZH-02). `to_user` = the salesperson reads.
pub async fn take_unread(
    tx: &impl GenericClient,
    user_id: i64,
    customer_id: i64,
    to_user: bool,
) -> Result<Vec<Message>, ApiError> {
    // Fast path: nothing unread → no lock, no write.
    let (unread_col, read_col, send_type) = side(to_user);
    let row = tx
        .query_opt(
            &format!("select id, {read_col} from conversation where user_id = $1 and customer_id = $2 and {unread_col} > 0 for update"),
            &[&user_id, &customer_id],
        )
        .await?;
    let Some(row) = row else { return Ok(vec![]) };
    let (conv, read_seq): (i64, i64) = (row.get(0), row.get(1));
    let sql = format!(
        "select {COLS} from chat_message m where m.conversation_id = $1 and m.send_type = $2 and m.seq > $3 order by m.seq desc"
    );
    let msgs: Vec<Message> = tx
        .query(&sql, &[&conv, &send_type, &read_seq])
        .await?
        .iter()
        .map(message)
        .collect();
    let top = msgs.first().map(|m| m.seq).unwrap_or(read_seq);
    tx.execute(
        &format!("update conversation set {read_col} = greatest({read_col}, $2), {unread_col} = 0 where id = $1"),
        &[&conv, &top],
    )
    .await?;
    Ok(msgs)
}

/// Marks one side's messages read up to `seq`; returns the new unread count.
pub async fn mark_read(
    db: &impl GenericClient,
    conversation_id: i64,
    to_user: bool,
    seq: i64,
) -> Result<i32, ApiError> {
    let (unread_col, read_col, send_type) = side(to_user);
    let row = db
        .query_one(
            &format!(
                "update conversation c set {read_col} = greatest({read_col}, least($2, last_seq)),
                    {unread_col} = (select count(*) from chat_message m where m.conversation_id = c.id
                        and m.send_type = $3 and m.seq > greatest(c.{read_col}, least($2, c.last_seq)))
                 where id = $1 returning {unread_col}"
            ),
            &[&conversation_id, &seq, &send_type],
        )
        .await?;
    Ok(row.get(0))
}

/// QYW-33: the salesperson's conversations with their last message, newest first.
pub async fn contacts(
    db: &impl GenericClient,
    user_id: i64,
    offset: i64,
    limit: i64,
) -> Result<(Vec<(Conversation, Option<Message>)>, i64), ApiError> {
    let total: i64 = db
        .query_one(
            "select count(*) from conversation where user_id = $1 and last_seq > 0",
            &[&user_id],
        )
        .await?
        .get(0);
    let sql = format!(
        "select c.id, c.company_id, c.user_id, c.customer_id, c.last_seq, c.user_read_seq, c.customer_read_seq,
            c.user_unread, c.customer_unread, c.last_message_at, {COLS}
         from conversation c left join chat_message m on m.conversation_id = c.id and m.seq = c.last_seq
         where c.user_id = $1 and c.last_seq > 0 order by c.last_message_minute desc nulls last, c.last_message_at desc nulls last, c.id desc limit $2 offset $3"
    );
    let rows = db.query(&sql, &[&user_id, &limit, &offset]).await?;
    let out = rows
        .iter()
        .map(|r| {
            let c = conversation(r);
            let m: Option<i64> = r.get(10);
            let msg = m.map(|_| Message {
                id: r.get(10),
                conversation_id: r.get(11),
                seq: r.get(12),
                company_id: r.get(13),
                user_id: r.get(14),
                customer_id: r.get(15),
                send_type: r.get(16),
                info_type: r.get(17),
                content: r.get(18),
                client_msg_id: r.get(19),
                is_first_info: r.get(20),
                create_date: r.get(21),
            });
            (c, msg)
        })
        .collect();
    Ok((out, total))
}
