//! The third-party platform's rows (sql/013_wechat_platform.sql): the component credentials
//! (`wx_component`) and the accounts companies authorize (`wx_authorizer`). Token renewal
//! takes the row `for update`, so across every node one renewal of a token runs at a time.

use deadpool_postgres::GenericClient;

/// A stored token still good for `fresh_secs` more seconds before its renewal is due.
#[derive(Debug)]
pub struct StoredToken {
    pub token: String,
    pub fresh_secs: f64,
}

/// The component row as locked for renewal.
#[derive(Debug)]
pub struct ComponentRow {
    pub verify_ticket: Option<String>,
    /// The stored token, when it is not due for renewal yet.
    pub fresh: Option<StoredToken>,
}

/// Stores the latest pushed `component_verify_ticket` (WECHAT.md §D.1).
pub async fn store_ticket(
    c: &impl GenericClient,
    component_appid: &str,
    ticket: &str,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "insert into wx_component (component_appid, verify_ticket, ticket_at) values ($1, $2, now())
         on conflict (component_appid) do update
         set verify_ticket = excluded.verify_ticket, ticket_at = now(), updated_at = now()",
        &[&component_appid, &ticket],
    )
    .await?;
    Ok(())
}

/// The stored component token if it is not due for renewal.
pub async fn fresh_component_token(
    c: &impl GenericClient,
    component_appid: &str,
) -> Result<Option<StoredToken>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "select access_token, extract(epoch from token_renew_at - clock_timestamp())::float8
             from wx_component
             where component_appid = $1 and access_token is not null and token_renew_at > clock_timestamp()",
            &[&component_appid],
        )
        .await?;
    Ok(row.map(|r| StoredToken {
        token: r.get(0),
        fresh_secs: r.get(1),
    }))
}

/// Locks the component row (creating it if needed) until the transaction ends.
pub async fn lock_component(
    c: &impl GenericClient,
    component_appid: &str,
) -> Result<ComponentRow, tokio_postgres::Error> {
    c.execute(
        "insert into wx_component (component_appid) values ($1) on conflict do nothing",
        &[&component_appid],
    )
    .await?;
    let r = c
        .query_one(
            "select verify_ticket, access_token, extract(epoch from token_renew_at - clock_timestamp())::float8
             from wx_component where component_appid = $1 for update",
            &[&component_appid],
        )
        .await?;
    let token: Option<String> = r.get(1);
    let fresh_secs: Option<f64> = r.get(2);
    Ok(ComponentRow {
        verify_ticket: r.get(0),
        fresh: match (token, fresh_secs) {
            (Some(token), Some(secs)) if secs > 0.0 => Some(StoredToken {
                token,
                fresh_secs: secs,
            }),
            _ => None,
        },
    })
}

/// Saves a renewed component token: it expires in `ttl` seconds and is due for renewal in
/// `renew_in` seconds, counted from this statement (`clock_timestamp()`, not the
/// transaction's start: the caller has already taken off the time since it asked WeChat).
pub async fn save_component_token(
    c: &impl GenericClient,
    component_appid: &str,
    token: &str,
    ttl: f64,
    renew_in: f64,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_component
         set access_token = $2, token_expires_at = clock_timestamp() + make_interval(secs => $3),
             token_renew_at = clock_timestamp() + make_interval(secs => $4), renewals = renewals + 1,
             updated_at = now()
         where component_appid = $1",
        &[&component_appid, &token, &ttl, &renew_in],
    )
    .await?;
    Ok(())
}

/// Makes the stored component token due now, if it is still `stale` (WeChat refused it).
/// Freshness is always judged against `clock_timestamp()`, not the transaction's `now()`: a
/// renewer whose transaction began before this update must still see the token as due.
pub async fn component_token_rejected(
    c: &impl GenericClient,
    component_appid: &str,
    stale: &str,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_component set token_renew_at = null
         where component_appid = $1 and access_token = $2",
        &[&component_appid, &stale],
    )
    .await?;
    Ok(())
}

/// How many times the component token was renewed (benchmarks and tests).
pub async fn component_renewals(
    c: &impl GenericClient,
    component_appid: &str,
) -> Result<i64, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "select renewals from wx_component where component_appid = $1",
            &[&component_appid],
        )
        .await?;
    Ok(r.map(|r| r.get(0)).unwrap_or(0))
}

/// The authorizer row as locked for renewal.
#[derive(Debug)]
pub struct AuthorizerTokenRow {
    pub authorized: bool,
    pub refresh_token: Option<String>,
    pub fresh: Option<StoredToken>,
}

/// The stored authorizer token of `appid` if it is authorized and not due for renewal.
pub async fn fresh_authorizer_token(
    c: &impl GenericClient,
    appid: &str,
) -> Result<Option<StoredToken>, tokio_postgres::Error> {
    // Prepared once per connection: a release batch asks it once for each of its apps.
    let st = c
        .prepare_cached(
            "select access_token, extract(epoch from token_renew_at - clock_timestamp())::float8
             from wx_authorizer
             where appid = $1 and authorized and access_token is not null and token_renew_at > clock_timestamp()",
        )
        .await?;
    let row = c.query_opt(&st, &[&appid]).await?;
    Ok(row.map(|r| StoredToken {
        token: r.get(0),
        fresh_secs: r.get(1),
    }))
}

/// Locks the authorizer row of `appid` until the transaction ends; `None` if unknown (or,
/// with `skip_locked`, if another transaction holds it).
pub async fn lock_authorizer(
    c: &impl GenericClient,
    appid: &str,
    skip_locked: bool,
) -> Result<Option<AuthorizerTokenRow>, tokio_postgres::Error> {
    let sql = if skip_locked {
        "select authorized, refresh_token, access_token,
                extract(epoch from token_renew_at - clock_timestamp())::float8
         from wx_authorizer where appid = $1 for update skip locked"
    } else {
        "select authorized, refresh_token, access_token,
                extract(epoch from token_renew_at - clock_timestamp())::float8
         from wx_authorizer where appid = $1 for update"
    };
    let r = c.query_opt(sql, &[&appid]).await?;
    Ok(r.map(|r| {
        let token: Option<String> = r.get(2);
        let secs: Option<f64> = r.get(3);
        AuthorizerTokenRow {
            authorized: r.get(0),
            refresh_token: r.get(1),
            fresh: match (token, secs) {
                (Some(token), Some(secs)) if secs > 0.0 => Some(StoredToken {
                    token,
                    fresh_secs: secs,
                }),
                _ => None,
            },
        }
    }))
}

/// Saves a renewed (or first) authorizer token and the refresh token that comes with it;
/// `ttl` and `renew_in` count from this statement, as for [`save_component_token`].
pub async fn save_authorizer_token(
    c: &impl GenericClient,
    appid: &str,
    token: &str,
    refresh_token: Option<&str>,
    ttl: f64,
    renew_in: f64,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_authorizer
         set access_token = $2, refresh_token = coalesce($3, refresh_token),
             token_expires_at = clock_timestamp() + make_interval(secs => $4),
             token_renew_at = clock_timestamp() + make_interval(secs => $5), renewals = renewals + 1
         where appid = $1",
        &[&appid, &token, &refresh_token, &ttl, &renew_in],
    )
    .await?;
    Ok(())
}

/// Makes the stored authorizer token due now, if it is still `stale`.
pub async fn authorizer_token_rejected(
    c: &impl GenericClient,
    appid: &str,
    stale: &str,
) -> Result<(), tokio_postgres::Error> {
    c.execute(
        "update wx_authorizer set token_renew_at = null where appid = $1 and access_token = $2",
        &[&appid, &stale],
    )
    .await?;
    Ok(())
}

/// Authorized accounts whose token is due within `within_secs` (for the background renewer).
pub async fn authorizers_due(
    c: &impl GenericClient,
    within_secs: f64,
    limit: i64,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = c
        .query(
            "select appid from wx_authorizer
             where authorized and refresh_token is not null
               and (token_renew_at is null
                    or token_renew_at < clock_timestamp() + make_interval(secs => $1))
             order by token_renew_at nulls first limit $2",
            &[&within_secs, &limit],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The `unauthorized` event: the account withdrew its authorization. Its tokens are dropped
/// and the flow goes back to step 2 (grant link). Returns the company, if the appid is known.
pub async fn mark_unauthorized(
    c: &impl GenericClient,
    appid: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let r = c
        .query_opt(
            "update wx_authorizer
             set authorized = false, unauthorized_at = now(), access_token = null,
                 token_expires_at = null, token_renew_at = null, refresh_token = null,
                 step = 2
             where appid = $1 returning company_id",
            &[&appid],
        )
        .await?;
    Ok(r.map(|r| r.get(0)))
}
