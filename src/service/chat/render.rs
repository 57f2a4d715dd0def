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

/// Renders with the cached cards of both sides.
pub async fn live(state: &AppState, m: &Message) -> Result<Value, ApiError> {
    let user = state.people.user(state, m.user_id).await?;
    let customer = state.people.customer(state, m.customer_id).await?;
    Ok(row(m, &user, &customer))
}
