//! Password storage: Argon2id, plus legacy md5 hashes imported from the old system.
//!
//! The old Django system stored `md5(password)`. Such a hash is imported *wrapped*:
//! `legacy-md5$` + Argon2id(md5hex), so the md5 is never stored bare. At the next
//! successful login the password is re-hashed as plain Argon2id.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use md5::{Digest, Md5};

const LEGACY_PREFIX: &str = "legacy-md5$";

/// Lower-case hex md5 of the UTF-8 bytes (the legacy `str_encrypt`).
pub fn md5_hex(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Argon2id PHC string for `plain`. CPU-heavy: call from a blocking thread.
pub fn hash(plain: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))
}

/// Wraps an imported legacy md5 hex so it can be verified without being stored bare.
pub fn wrap_legacy_md5(md5hex: &str) -> anyhow::Result<String> {
    Ok(format!(
        "{LEGACY_PREFIX}{}",
        hash(&md5hex.trim().to_ascii_lowercase())?
    ))
}

/// Outcome of a password check.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored in the legacy form: re-hash it now.
    YesUpgrade,
}

/// Checks `plain` against a stored hash (either form). CPU-heavy: call from a blocking thread.
pub fn verify(stored: &str, plain: &str) -> Verified {
    let (candidate, upgrade) = match stored.strip_prefix(LEGACY_PREFIX) {
        Some(inner) => (inner, Some(md5_hex(plain))),
        None => (stored, None),
    };
    let Ok(parsed) = PasswordHash::new(candidate) else {
        return Verified::No;
    };
    let input = upgrade.as_deref().unwrap_or(plain);
    match Argon2::default().verify_password(input.as_bytes(), &parsed) {
        Ok(()) if upgrade.is_some() => Verified::YesUpgrade,
        Ok(()) => Verified::Yes,
        Err(_) => Verified::No,
    }
}

/// ADM-02's rule: at least 8 characters with upper case, lower case and digits.
pub fn meets_complexity(p: &str) -> bool {
    p.chars().count() >= 8
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("Secret123").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify(&h, "Secret123"), Verified::Yes);
        assert_eq!(verify(&h, "secret123"), Verified::No);
    }

    #[test]
    fn legacy_md5_verifies_and_asks_for_upgrade() {
        let stored = wrap_legacy_md5(&md5_hex("old-pass")).unwrap();
        assert!(!stored.contains(&md5_hex("old-pass")));
        assert_eq!(verify(&stored, "old-pass"), Verified::YesUpgrade);
        assert_eq!(verify(&stored, "other"), Verified::No);
    }

    #[test]
    fn md5_matches_the_legacy_formula() {
        assert_eq!(md5_hex("123456"), "e10adc3949ba59abbe56e057f20f883e");
    }

    #[test]
    fn complexity_rule() {
        assert!(meets_complexity("Abcdefg1"));
        assert!(!meets_complexity("Abcdef1"));
        assert!(!meets_complexity("abcdefg1"));
        assert!(!meets_complexity("ABCDEFG1"));
        assert!(!meets_complexity("Abcdefgh"));
        assert!(verify("garbage", "x") == Verified::No);
    }
}
