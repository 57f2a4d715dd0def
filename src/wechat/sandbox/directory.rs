//! `/__sandbox/wecom/directory`: read or replace the WeCom corp's departments and members
//! while the sandbox runs (tokens, clock and record are kept), so tests can change the
//! address book between two contacts syncs (someone joins, moves, is renamed or leaves).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::config::{DepartmentSeed, WecomUserSeed};
use super::Shared;

/// `POST` body: the lists to replace; an absent list is kept.
#[derive(Default, Deserialize)]
pub(crate) struct DirectoryChange {
    departments: Option<Vec<DepartmentSeed>>,
    users: Option<Vec<WecomUserSeed>>,
}

/// `GET /__sandbox/wecom/directory`: `{"departments":[…],"users":[…]}`.
pub(crate) async fn get(State(shared): State<Shared>) -> Response {
    let st = shared.lock();
    match &st.seed.wecom {
        Some(corp) => {
            Json(json!({"departments": corp.departments, "users": corp.users})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no wecom corp in the seed"})),
        )
            .into_response(),
    }
}

/// `POST /__sandbox/wecom/directory {"departments":[…],"users":[…]}`.
pub(crate) async fn set(
    State(shared): State<Shared>,
    Json(change): Json<DirectoryChange>,
) -> Response {
    let mut st = shared.lock();
    let Some(corp) = st.seed.wecom.as_mut() else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no wecom corp in the seed"})),
        )
            .into_response();
    };
    if let Some(d) = change.departments {
        corp.departments = d;
    }
    if let Some(u) = change.users {
        corp.users = u;
    }
    Json(json!({"departments": corp.departments.len(), "users": corp.users.len()})).into_response()
}
