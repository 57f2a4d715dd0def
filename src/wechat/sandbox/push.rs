//! Pushes from the sandbox to the server (G.5): built under the state lock into the outbox,
//! encrypted exactly as WeChat does (WECHAT.md §D.2, with [`crate::wechat::crypt`]), then sent
//! once the lock is released, and recorded with the server's reply.

use rand::Rng;

use super::state::{Push, PushRecord, SandboxState};
use super::Shared;
use crate::wechat::crypt::MsgCrypt;

/// Fixed timestamp, nonce and random prefix, for byte-exact golden pushes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fixed {
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub random16: Option<[u8; 16]>,
}

/// The authorization event URL (run-time override, else the seed's).
pub(crate) fn event_url(st: &SandboxState) -> Option<String> {
    st.component
        .event_url
        .clone()
        .or_else(|| st.seed.component.as_ref().and_then(|c| c.event_url.clone()))
}

/// Encrypts `plaintext` for `url`; `outer` names the plaintext envelope's id element
/// (`AppId` for component events, `ToUserName` for account messages).
pub(crate) fn make(
    st: &mut SandboxState,
    url: String,
    outer: (&str, &str),
    plaintext: String,
    fixed: &Fixed,
) -> Result<Push, String> {
    let seed = st
        .seed
        .component
        .as_ref()
        .ok_or("the sandbox has no component configured")?;
    let crypt = MsgCrypt::new(&seed.token, &seed.encoding_aes_key, &seed.appid)
        .map_err(|e| format!("component key: {e}"))?;
    st.component.n_nonce += 1;
    let timestamp = fixed
        .timestamp
        .clone()
        .unwrap_or_else(|| st.clock.now().to_string());
    let nonce = fixed
        .nonce
        .clone()
        .unwrap_or_else(|| format!("{}", 1_000_000_000 + st.component.n_nonce));
    let random16 = fixed.random16.unwrap_or_else(|| {
        let mut rng = rand::thread_rng();
        let mut r = [0u8; 16];
        for b in &mut r {
            *b = rng.sample(rand::distributions::Alphanumeric);
        }
        r
    });
    let ciphertext = crypt.encrypt_with(&plaintext, &random16);
    let msg_signature = crypt.msg_signature(&timestamp, &nonce, &ciphertext);
    let signature = crypt.url_signature(&timestamp, &nonce);
    let body = format!(
        "<xml><{0}><![CDATA[{1}]]></{0}><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>",
        outer.0, outer.1
    );
    Ok(Push {
        url,
        query: vec![
            ("signature".into(), signature),
            ("timestamp".into(), timestamp),
            ("nonce".into(), nonce),
            ("encrypt_type".into(), "aes".into()),
            ("msg_signature".into(), msg_signature),
        ],
        body,
        plaintext,
        ciphertext,
    })
}

/// Queues a component event (`InfoType` document) to the event URL, if one is known.
pub(crate) fn queue_event(st: &mut SandboxState, plaintext: String) {
    let Some(url) = event_url(st) else {
        return;
    };
    let appid = st
        .seed
        .component
        .as_ref()
        .map(|c| c.appid.clone())
        .unwrap_or_default();
    if let Ok(push) = make(st, url, ("AppId", &appid), plaintext, &Fixed::default()) {
        st.outbox.push(push);
    }
}

/// Sends every queued push, in order, and records the replies.
pub(crate) async fn deliver(shared: &Shared) {
    loop {
        let next = {
            let mut st = shared.lock();
            if st.outbox.is_empty() {
                return;
            }
            st.outbox.remove(0)
        };
        let record = send(&shared.1, next).await;
        shared.lock().pushes.push(record);
    }
}

/// Sends one push now (admin API).
pub(crate) async fn send(http: &reqwest::Client, push: Push) -> PushRecord {
    let answer = http
        .post(&push.url)
        .query(&push.query)
        .header("content-type", "text/xml")
        .body(push.body.clone())
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    let (status, reply) = match answer {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, format!("unreachable: {}", e.without_url())),
    };
    tracing::debug!(status, "sandbox push sent");
    PushRecord {
        failed: !(status == 200 && reply == "success"),
        url: push.url,
        query: push.query.into_iter().collect(),
        plaintext: push.plaintext,
        ciphertext: push.ciphertext,
        status,
        reply,
    }
}
