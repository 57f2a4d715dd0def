//! The login throttle (`login_throttle`, sql/007): attempts counted atomically per key in a
//! fixed window, reserved *before* the password is checked, so a concurrent burst cannot
//! have more passwords checked than the limit allows. Policy: src/auth/login.rs, docs/auth.md.

use deadpool_postgres::GenericClient;

use crate::error::ApiError;

/// Counts one attempt on each key (in one statement, in the given order so concurrent
/// callers lock rows in the same order) and returns each key's attempts in its window,
/// this one included.
pub async fn reserve(
    db: &impl GenericClient,
    keys: &[String],
    window_secs: f64,
) -> Result<Vec<(String, i32)>, ApiError> {
    let rows = db
        .query(
            "insert into login_throttle (key, attempts, window_start)
             select k, 1, now() from unnest($1::text[]) with ordinality as t(k, n) order by n
             on conflict (key) do update set
                attempts = case when login_throttle.window_start < now() - make_interval(secs => $2)
                    then 1 else login_throttle.attempts + 1 end,
                window_start = case when login_throttle.window_start < now() - make_interval(secs => $2)
                    then now() else login_throttle.window_start end
             returning key, attempts",
            &[&keys, &window_secs],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A successful login: `clear` starts afresh, `undo` gives its reserved attempt back.
pub async fn succeeded(db: &impl GenericClient, clear: &str, undo: &str) -> Result<(), ApiError> {
    db.execute("delete from login_throttle where key = $1", &[&clear])
        .await?;
    db.execute(
        "update login_throttle set attempts = greatest(attempts - 1, 0) where key = $1",
        &[&undo],
    )
    .await?;
    Ok(())
}

/// Drops windows that ended long ago (called periodically).
pub async fn sweep(db: &impl GenericClient, window_secs: f64) -> Result<u64, ApiError> {
    Ok(db
        .execute(
            "delete from login_throttle where window_start < now() - make_interval(secs => $1)",
            &[&window_secs],
        )
        .await?)
}
