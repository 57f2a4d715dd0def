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

/// Stores a batch in the caller's transaction. Results are in input order.
pub async fn store_batch(
    tx: &impl GenericClient,
    batch: &[NewMessage],
) -> Result<Vec<Stored>, ApiError> {
    // 1. Lock (or create) the conversations, always in the same order.
    let mut pairs: Vec<(i64, i64, i64)> = batch
        .iter()
        .map(|m| (m.user_id, m.customer_id, m.company_id))
        .collect();
    pairs.sort_unstable();
    pairs.dedup_by_key(|p| (p.0, p.1));
    let (users, customers, companies): (Vec<i64>, Vec<i64>, Vec<i64>) =
        pairs.iter().fold((vec![], vec![], vec![]), |mut acc, p| {
            acc.0.push(p.0);
            acc.1.push(p.1);
            acc.2.push(p.2);
            acc
        });
    let rows = tx
        .query(
            "insert into conversation (company_id, user_id, customer_id)
             select * from unnest($1::bigint[], $2::bigint[], $3::bigint[])
             on conflict on constraint conversation_pair_key do update set last_seq = conversation.last_seq
             returning id, user_id, customer_id, last_seq",
            &[&companies, &users, &customers],
        )
        .await?;
    // (user, customer) → (conversation id, next free seq)
    let mut conv: HashMap<(i64, i64), (i64, i64)> = rows
        .iter()
        .map(|r| ((r.get(1), r.get(2)), (r.get(0), r.get::<_, i64>(3))))
        .collect();

    // 2. Retries: messages whose client id is already stored in that conversation.
    let mut keyed: (Vec<i64>, Vec<i16>, Vec<String>) = (vec![], vec![], vec![]);
    for m in batch {
        if let (Some(cid), Some((c, _))) = (&m.client_msg_id, conv.get(&(m.user_id, m.customer_id)))
        {
            keyed.0.push(*c);
            keyed.1.push(m.send_type);
            keyed.2.push(cid.clone());
        }
    }
    let mut existing: HashMap<(i64, i16, String), Message> = HashMap::new();
    if !keyed.0.is_empty() {
        let sql = format!(
            "select {COLS} from chat_message m
             join unnest($1::bigint[], $2::smallint[], $3::text[]) as k(c, s, id)
               on m.conversation_id = k.c and m.send_type = k.s and m.client_msg_id = k.id"
        );
        for r in tx.query(&sql, &[&keyed.0, &keyed.1, &keyed.2]).await? {
            let m = message(&r);
            let key = (
                m.conversation_id,
                m.send_type,
                m.client_msg_id.clone().unwrap_or_default(),
            );
            existing.insert(key, m);
        }
    }

    // 3. Assign seqs in input order; a duplicate inside the batch points at its first copy.
    enum Slot {
        Existing(Message),
        New(usize),
    }
    let mut slots = Vec::with_capacity(batch.len());
    let mut fresh: Vec<(usize, i64, i64)> = Vec::new(); // (batch index, conversation, seq)
    let mut in_batch: HashMap<(i64, i16, String), usize> = HashMap::new();
    for (i, m) in batch.iter().enumerate() {
        let Some((c, next)) = conv.get_mut(&(m.user_id, m.customer_id)) else {
            return Err(ApiError::Unexpected(anyhow::anyhow!(
                "conversation missing after upsert"
            )));
        };
        if let Some(cid) = &m.client_msg_id {
            let key = (*c, m.send_type, cid.clone());
            if let Some(old) = existing.get(&key) {
                slots.push(Slot::Existing(old.clone()));
                continue;
            }
            if let Some(&j) = in_batch.get(&key) {
                slots.push(Slot::New(j));
                continue;
            }
            in_batch.insert(key, fresh.len());
        }
        *next += 1;
        slots.push(Slot::New(fresh.len()));
        fresh.push((i, *c, *next));
    }

    // 4. Insert the new rows.
    let mut stored_new: Vec<Message> = Vec::with_capacity(fresh.len());
    if !fresh.is_empty() {
        let n = fresh.len();
        let mut cols = (
            Vec::with_capacity(n),
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
        for &(i, c, seq) in &fresh {
            let Some(m) = batch.get(i) else { continue };
            cols.0.push(m.company_id);
            cols.1.push(c);
            cols.2.push(seq);
            cols.3.push(m.user_id);
            cols.4.push(m.customer_id);
            cols.5.push(m.send_type);
            cols.6.push(m.info_type);
            cols.7.push(m.content.clone());
            cols.8.push(m.client_msg_id.clone());
            cols.9.push(seq == 1);
        }
        let rows = tx
            .query(
                "insert into chat_message (company_id, conversation_id, seq, user_id, customer_id, send_type, info_type,
                    content, client_msg_id, is_first_info)
                 select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                    $6::smallint[], $7::smallint[], $8::jsonb[], $9::text[], $10::boolean[])
                 returning id, conversation_id, seq, create_date",
                &[&cols.0, &cols.1, &cols.2, &cols.3, &cols.4, &cols.5, &cols.6, &cols.7, &cols.8, &cols.9],
            )
            .await?;
        let ids: HashMap<(i64, i64), (i64, DateTime<Utc>)> = rows
            .iter()
            .map(|r| ((r.get(1), r.get(2)), (r.get(0), r.get(3))))
            .collect();
        for &(i, c, seq) in &fresh {
            let (Some(m), Some((id, at))) = (batch.get(i), ids.get(&(c, seq))) else {
                return Err(ApiError::Unexpected(anyhow::anyhow!(
                    "inserted message not returned"
                )));
            };
            stored_new.push(Message {
                id: *id,
                conversation_id: c,
                seq,
                company_id: m.company_id,
                user_id: m.user_id,
                customer_id: m.customer_id,
                send_type: m.send_type,
                info_type: m.info_type,
                content: m.content.clone(),
                client_msg_id: m.client_msg_id.clone(),
                is_first_info: seq == 1,
                create_date: *at,
            });
        }

        // 5. Move the conversations' counters, last message and unread counts.
        let mut per_conv: HashMap<i64, (i64, i64, i32, i32)> = HashMap::new();
        for m in &stored_new {
            let e = per_conv.entry(m.conversation_id).or_insert((0, 0, 0, 0));
            if m.seq > e.0 {
                e.0 = m.seq;
                e.1 = m.id;
            }
            if m.send_type == TO_USER {
                e.2 += 1;
            } else {
                e.3 += 1;
            }
        }
        let mut u = (vec![], vec![], vec![], vec![], vec![]);
        for (c, (seq, id, to_user, to_customer)) in per_conv {
            u.0.push(c);
            u.1.push(seq);
            u.2.push(id);
            u.3.push(to_user);
            u.4.push(to_customer);
        }
        tx.execute(
            "update conversation c set last_seq = t.seq, last_message_id = t.mid, last_message_at = now(),
                user_unread = c.user_unread + t.tu, customer_unread = c.customer_unread + t.tc
             from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::int[]) as t(id, seq, mid, tu, tc)
             where c.id = t.id",
            &[&u.0, &u.1, &u.2, &u.3, &u.4],
        )
        .await?;
        // A customer writing is customer activity on the relation.
        let active: (Vec<i64>, Vec<i64>) = stored_new
            .iter()
            .filter(|m| m.send_type == TO_USER)
            .map(|m| (m.user_id, m.customer_id))
            .unzip();
        if !active.0.is_empty() {
            tx.execute(
                "update user_customer uc set last_activity_time = now()
                 from unnest($1::bigint[], $2::bigint[]) as t(u, c) where uc.user_id = t.u and uc.customer_id = t.c",
                &[&active.0, &active.1],
            )
            .await?;
        }
    }

    Ok(slots
        .into_iter()
        .filter_map(|s| match s {
            Slot::Existing(m) => Some(Stored {
                message: m,
                duplicate: true,
            }),
            Slot::New(j) => stored_new.get(j).map(|m| Stored {
                message: m.clone(),
                duplicate: false,
            }),
        })
        .collect())
}

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
    Ok(db
        .query_opt(
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
    let sql = format!("{CONV} where {col} = $1 and last_seq > 0 order by last_message_at desc nulls last limit $2");
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

/// A page of a conversation's history, newest first.
pub async fn history(
    db: &impl GenericClient,
    conversation_id: i64,
    offset: i64,
    limit: i64,
) -> Result<Vec<Message>, ApiError> {
    let sql = format!(
        "select {COLS} from chat_message m where m.conversation_id = $1 order by m.seq desc limit $2 offset $3"
    );
    Ok(db
        .query(&sql, &[&conversation_id, &limit, &offset])
        .await?
        .iter()
        .map(message)
        .collect())
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
    let (unread_col, read_col, send_type) = if to_user {
        ("user_unread", "user_read_seq", TO_USER)
    } else {
        ("customer_unread", "customer_read_seq", TO_CUSTOMER)
    };
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
    let (unread_col, read_col, send_type) = if to_user {
        ("user_unread", "user_read_seq", TO_USER)
    } else {
        ("customer_unread", "customer_read_seq", TO_CUSTOMER)
    };
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
         from conversation c left join chat_message m on m.id = c.last_message_id
         where c.user_id = $1 and c.last_seq > 0 order by c.last_message_at desc nulls last, c.id desc limit $2 offset $3"
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
