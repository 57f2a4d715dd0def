//! Tokens: 32 random lower-case hex characters, with idle and absolute lifetimes.

use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::config::AuthSettings;

/// A fresh random token (128 bits from the OS RNG).
pub fn generate() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Why a token no longer works, if it doesn't.
pub fn expired(
    cfg: &AuthSettings,
    issued: Option<DateTime<Utc>>,
    last_used: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    let over = |since: Option<DateTime<Utc>>, limit: std::time::Duration| {
        !limit.is_zero()
            && since.is_some_and(|t| (now - t).to_std().map(|age| age > limit).unwrap_or(false))
    };
    if over(issued, cfg.token_max_age) {
        return Some("token past its absolute lifetime");
    }
    if over(last_used.or(issued), cfg.token_idle) {
        return Some("token idle for too long");
    }
    None
}

impl AuthSettings {
    /// How long a spent `rand_str` must be remembered.
    pub fn replay_window(&self) -> std::time::Duration {
        if self.signature_window.is_zero() {
            self.replay_ttl
        } else {
            // Both sides of the window: a timestamp may be ahead of our clock too.
            self.signature_window * 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tokens_are_32_lower_hex() {
        let t = generate();
        assert_eq!(t.len(), 32);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(t, generate());
    }

    #[test]
    fn idle_and_absolute_lifetimes() {
        let cfg = AuthSettings {
            token_idle: Duration::from_secs(60),
            token_max_age: Duration::from_secs(3600),
            ..AuthSettings::default()
        };
        let now = Utc::now();
        let ago = |s: i64| Some(now - chrono::Duration::seconds(s));
        assert_eq!(expired(&cfg, ago(100), ago(10), now), None);
        assert!(expired(&cfg, ago(100), ago(120), now).is_some());
        assert!(expired(&cfg, ago(4000), ago(1), now).is_some());
        let off = AuthSettings {
            token_idle: Duration::ZERO,
            token_max_age: Duration::ZERO,
            ..cfg
        };
        assert_eq!(expired(&off, ago(99_999), ago(99_999), now), None);
    }
}
