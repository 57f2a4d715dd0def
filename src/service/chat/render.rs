//! The chat row shape: the union of the fields QYW-34/36 and GZH-02/03 document (both
//! `user_avator` and `user_avatar`, A-79), the content object's keys flattened in (`msg`, or
//! `product_name`…), plus `conversation_id`, `seq`, `id` and `client_msg_id` for live clients.

use serde_json::{json, Map, Value};

use super::people::{CustomerCard, UserCard};
use crate::{db::chat::Message, domain::time, error::ApiError, state::AppState};

/// One message as every chat endpoint and the WebSocket show it.
pub fn row(m: &Message, user: &UserCard, customer: &CustomerCard) -> Value {
    let mut o = Map::new();
    if let Value::Object(content) = &m.content {
        for (k, v) in content {
            o.insert(k.clone(), v.clone());
        }
    }
    let from_name = if m.send_type == crate::db::chat::TO_USER {
        &customer.username
    } else {
        &user.username
    };
    let fields = json!({
        "id": m.id,
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "client_msg_id": m.client_msg_id,
        "customer_id": m.customer_id,
        "user_id": m.user_id,
        "send_type": m.send_type,
        "info_type": m.info_type,
        "is_first_info": m.is_first_info,
        "dateTime": time::iso(m.create_date),
        "src": customer.headimgurl,
        "name": customer.username,
        "customer": customer.username,
        "customer_headimgurl": customer.headimgurl,
        "user_avator": user.avatar,
        "user_avatar": user.avatar,
        "from_user_name": from_name,
    });
    if let Value::Object(f) = fields {
        o.extend(f);
    }
    if !o.contains_key("msg") {
        o.insert("msg".into(), Value::String(String::new()));
    }
    Value::Object(o)
}

/// What a rendered row adds to its content: the fixed keys, ids, the date, both sides' names
/// and avatar URLs twice each (about 850 bytes with WeChat's 130-character avatar URLs).
const ROW_OVERHEAD: usize = 1024;

/// About how many bytes [`row`] (and its frame) will take, read from the stored content
/// without rendering it: the catch-up budget is taken before a message is rendered
/// (src/hub/catchup.rs). Strings count their UTF-8 length (escapes not counted).
pub fn approx_len(m: &Message) -> usize {
    fn walk(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len() + 3,
            Value::Object(o) => o.iter().map(|(k, v)| k.len() + 4 + walk(v)).sum::<usize>() + 2,
            Value::Array(a) => a.iter().map(|v| walk(v) + 1).sum::<usize>() + 2,
            _ => 8,
        }
    }
    ROW_OVERHEAD + walk(&m.content)
}

/// Waits for a history page's share of the node's catch-up budget before it is rendered: a
/// client that got `reload` pages the history instead of resuming, and the same bytes count
/// the same (src/hub/catchup.rs). An ordinary page (20 short messages) fits the burst.
pub async fn pace_history(state: &AppState, rows: &[Message]) {
    if state.catchup.is_limited() && !rows.is_empty() {
        let bytes = rows.iter().map(approx_len).sum();
        state
            .catchup
            .pace(crate::hub::catchup::Via::History, bytes)
            .await;
    }
}

/// Renders with the cached cards of both sides.
pub async fn live(state: &AppState, m: &Message) -> Result<Value, ApiError> {
    let user = state.people.user(state, m.user_id).await?;
    let customer = state.people.customer(state, m.customer_id).await?;
    Ok(row(m, &user, &customer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(content: Value) -> Message {
        Message {
            id: 1,
            conversation_id: 1,
            seq: 1,
            company_id: 1,
            user_id: 1,
            customer_id: 1,
            send_type: crate::db::chat::TO_USER,
            info_type: 1,
            content,
            client_msg_id: Some("c1-1".into()),
            is_first_info: false,
            create_date: chrono::Utc::now(),
        }
    }

    /// The estimate the catch-up budget is taken by follows the rendered size: never far
    /// below it, and a large message counts its text.
    #[test]
    fn the_estimate_of_a_row_is_close_to_its_rendered_length() {
        let user = UserCard {
            id: 1,
            company_id: 1,
            username: "张炬".into(),
            avatar: format!(
                "http://api.zhugeyingxiao.com/statics/zhugeleida/imgs/{}.jpg",
                "a".repeat(64)
            ),
            mingpian_phone: None,
            wechat: None,
        };
        let customer = CustomerCard {
            id: 1,
            company_id: 1,
            username: "_zzz จุ๊บ 客户".into(),
            headimgurl: format!(
                "https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132",
                "Q".repeat(90)
            ),
        };
        for text in ["", "你好", &"x".repeat(15_000)] {
            let m = message(json!({"info_type": 1, "msg": text}));
            let rendered = json!({"type": "message", "message": row(&m, &user, &customer)})
                .to_string()
                .len();
            let estimate = approx_len(&m);
            assert!(estimate >= rendered, "{estimate} < {rendered}");
            assert!(estimate <= rendered + 1024, "{estimate} vs {rendered}");
        }
    }
}
