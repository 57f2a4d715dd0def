//! Every Redis key and channel of an installation, built in one place with the
//! installation's prefix, so installations (and test runs) sharing one Redis never see each
//! other's frames or keys.
//!
//! The prefix is `ZGLD_REDIS_PREFIX` when set; otherwise `zgld:<host>:<port>/<dbname>:` of
//! `ZGLD_DATABASE_URL` (no user or password), so nodes of one installation (one database)
//! share their namespace and installations on different databases are apart.

use std::sync::Arc;

/// The namespace every Redis name of this installation lives in. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisNs(Arc<str>);

impl RedisNs {
    pub fn new(prefix: impl Into<String>) -> Self {
        RedisNs(Arc::from(prefix.into()))
    }

    /// The namespace of an installation: `explicit` when given, else derived from the database.
    pub fn for_installation(explicit: Option<&str>, database_url: &str) -> Self {
        match explicit {
            Some(p) => RedisNs::new(p),
            None => RedisNs::new(default_prefix(database_url)),
        }
    }

    /// The one function that names things in Redis: `<prefix><name>`.
    pub fn key(&self, name: &str) -> String {
        let mut k = String::with_capacity(self.0.len() + name.len());
        k.push_str(&self.0);
        k.push_str(name);
        k
    }

    pub fn prefix(&self) -> &str {
        &self.0
    }
}

/// `zgld:<host>:<port>/<dbname>:` of a PostgreSQL URL (credentials and options left out).
pub fn default_prefix(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("localhost");
            let port = u.port().unwrap_or(5432);
            let db = u.path().trim_start_matches('/');
            let db = if db.is_empty() { "postgres" } else { db };
            format!("zgld:{host}:{port}/{db}:")
        }
        // Not a URL (a key=value string): keep it apart from others by its text, without
        // anything after a password.
        Err(_) => {
            let safe: String = database_url
                .split_whitespace()
                .filter(|kv| !kv.starts_with("password"))
                .collect::<Vec<_>>()
                .join(",");
            format!("zgld:{safe}:")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_prefix_names_the_database_without_credentials() {
        assert_eq!(
            default_prefix("postgres://postgres:secret@db.example:6543/zgld_prod?sslmode=require"),
            "zgld:db.example:6543/zgld_prod:"
        );
        assert_eq!(
            default_prefix("postgres://postgres@127.0.0.1/zhugeleida"),
            "zgld:127.0.0.1:5432/zhugeleida:"
        );
        assert_eq!(
            default_prefix("host=db user=x password=hush dbname=a"),
            "zgld:host=db,user=x,dbname=a:"
        );
        let ns = RedisNs::for_installation(None, "postgres://h:1/a");
        assert_eq!(ns.key("hub"), "zgld:h:1/a:hub");
        assert_eq!(
            RedisNs::for_installation(Some("x:"), "postgres://h:1/a").key("hub"),
            "x:hub"
        );
    }
}
