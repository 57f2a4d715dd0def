//! The WebSocket endpoints of the three client kinds, signed with the same query as REST:
//! `/zhugeleida/qiyeweixin/ws` (salesperson), `/zhugeleida/xiaochengxu/ws` and
//! `/zhugeleida/gongzhonghao/ws` (customer). Protocol: docs/realtime.md.

use std::sync::Arc;

use axum::{
    extract::ws::WebSocketUpgrade,
    response::{IntoResponse, Response},
    Extension,
};

use crate::{
    auth::{CustomerRead, StaffRead},
    error::ApiError,
    hub::{
        close,
        session::{self, Peer},
    },
    service::chat::Party,
    state::AppState,
};

/// Frames larger than this are refused (the biggest chat content is 16 KiB).
const MAX_MESSAGE: usize = 64 * 1024;

fn configure(ws: WebSocketUpgrade, read_buffer: usize) -> WebSocketUpgrade {
    // Small buffers: most connections are idle (docs/BENCHMARKS.md, memory per connection).
    // The read buffer is also the most read at once from the socket.
    ws.read_buffer_size(read_buffer.max(64))
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
}

fn upgrade<E: std::fmt::Display>(
    ws: Result<WebSocketUpgrade, E>,
    state: Arc<AppState>,
    peer: Result<Peer, ApiError>,
) -> Response {
    let ws = match ws {
        Ok(ws) => configure(ws, state.settings.ws_limits.read_buffer),
        Err(e) => {
            return ApiError::illegal(format!("not a WebSocket upgrade: {e}")).into_response()
        }
    };
    match peer {
        Ok(peer) => ws.on_upgrade(move |socket| session::run(state, socket, peer)),
        // An outage (database unreachable) is not an auth failure: the client should retry,
        // not log in again.
        Err(e @ (ApiError::Unexpected(_) | ApiError::Unavailable(_))) => {
            tracing::warn!(error = %e, "ws auth could not be checked");
            ws.on_upgrade(|socket| session::refuse(socket, close::TRY_LATER))
        }
        Err(e) => {
            tracing::debug!(reason = %e, "ws auth failed");
            ws.on_upgrade(|socket| session::refuse(socket, close::AUTH_FAILED))
        }
    }
}

/// Salesperson (WeCom app, radar dashboard).
pub async fn staff(
    // The node's one shared copy of the state (startup::router): a session holds a pointer,
    // not a clone of every handle.
    Extension(state): Extension<Arc<AppState>>,
    auth: Result<StaffRead, ApiError>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let peer = auth.map(|a| Peer {
        party: Party::User {
            id: a.id,
            company_id: a.company_id,
        },
        session: a.session_id(),
    });
    upgrade(ws, state, peer)
}

/// Customer (mini program or official account).
pub async fn customer(
    Extension(state): Extension<Arc<AppState>>,
    auth: Result<CustomerRead, ApiError>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let peer = auth.map(|a| Peer {
        party: Party::Customer {
            id: a.id,
            company_id: a.company_id,
        },
        session: a.session_id(),
    });
    upgrade(ws, state, peer)
}
