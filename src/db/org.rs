//! Access rules (platform-wide menu entries) and roles (system roles plus each company's own).

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct RuleRow {
    pub id: i64,
    pub name: String,
    pub url_path: String,
    pub super_id: Option<i64>,
    pub super_name: Option<String>,
    pub create_date: DateTime<Utc>,
}

pub async fn list_rules(db: &impl GenericClient, top_only: bool) -> Result<Vec<RuleRow>, ApiError> {
    let rows = db
        .query(
            "select r.id, r.name, r.url_path, r.super_id, p.name, r.create_date
             from access_rule r left join access_rule p on p.id = r.super_id
             where (not $1 or r.super_id is null) order by r.id desc",
            &[&top_only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RuleRow {
            id: r.get(0),
            name: r.get(1),
            url_path: r.get(2),
            super_id: r.get(3),
            super_name: r.get(4),
            create_date: r.get(5),
        })
        .collect())
}

/// Fields of an access rule (ADM-21/22, QYW-17/19).
#[derive(Debug, Clone, Default)]
pub struct RuleInput {
    pub name: String,
    pub url_path: String,
    pub super_id: Option<i64>,
    pub icon: Option<String>,
    pub order_num: Option<i32>,
}

async fn check_parent(
    db: &impl GenericClient,
    id: Option<i64>,
    parent: Option<i64>,
) -> Result<(), ApiError> {
    let Some(p) = parent else { return Ok(()) };
    if Some(p) == id {
        return Err(ApiError::form("上级权限不能是自己"));
    }
    let row = db
        .query_opt("select super_id from access_rule where id = $1", &[&p])
        .await?;
    match row {
        None => Err(ApiError::not_found()),
        // Two levels only (the role tree of ADM-24): a parent must be top-level.
        Some(r) if r.get::<_, Option<i64>>(0).is_some() => {
            Err(ApiError::form("上级权限必须是顶级权限"))
        }
        Some(_) => Ok(()),
    }
}

pub async fn add_rule(db: &impl GenericClient, r: &RuleInput) -> Result<i64, ApiError> {
    check_parent(db, None, r.super_id).await?;
    let row = db
        .query_one(
            "insert into access_rule (name, url_path, super_id, icon, order_num) values ($1, $2, $3, $4, $5) returning id",
            &[&r.name, &r.url_path, &r.super_id, &r.icon, &r.order_num],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn update_rule(db: &impl GenericClient, id: i64, r: &RuleInput) -> Result<(), ApiError> {
    check_parent(db, Some(id), r.super_id).await?;
    if r.super_id.is_some() {
        let has_children: bool = db
            .query_one(
                "select exists (select 1 from access_rule where super_id = $1)",
                &[&id],
            )
            .await?
            .get(0);
        if has_children {
            return Err(ApiError::form("含有子级权限的条目不能设置上级"));
        }
    }
    let n = db
        .execute(
            "update access_rule set name = $2, url_path = $3, super_id = $4, icon = coalesce($5, icon),
                order_num = coalesce($6, order_num) where id = $1",
            &[&id, &r.name, &r.url_path, &r.super_id, &r.icon, &r.order_num],
        )
        .await?;
    super::touched(n)
}

pub async fn delete_rule(db: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    let has_children: bool = db
        .query_one(
            "select exists (select 1 from access_rule where super_id = $1)",
            &[&id],
        )
        .await?
        .get(0);
    if has_children {
        return Err(ApiError::HasChildren(
            "含有子级数据,请先删除或转移子级数据".into(),
        ));
    }
    if db
        .execute("delete from access_rule where id = $1", &[&id])
        .await?
        == 0
    {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// url_paths of the rules granted to a role (ADM-03).
pub async fn rule_paths_of_role(
    db: &impl GenericClient,
    role_id: i64,
) -> Result<Vec<String>, ApiError> {
    let rows = db
        .query(
            "select a.url_path from role_rule rr join access_rule a on a.id = rr.rule_id where rr.role_id = $1 order by a.id",
            &[&role_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: i64,
    pub company_id: Option<i64>,
    pub name: String,
    pub level: i16,
    pub create_date: DateTime<Utc>,
}

fn role_row(r: &tokio_postgres::Row) -> RoleRow {
    RoleRow {
        id: r.get(0),
        company_id: r.get(1),
        name: r.get(2),
        level: r.get(3),
        create_date: r.get(4),
    }
}

/// Roles a company sees: the system roles and its own, newest first.
pub async fn roles_visible(
    db: &impl GenericClient,
    company_id: i64,
) -> Result<Vec<RoleRow>, ApiError> {
    let rows = db
        .query(
            "select id, company_id, name, level, create_date from role
             where company_id is null or company_id = $1 order by id desc",
            &[&company_id],
        )
        .await?;
    Ok(rows.iter().map(role_row).collect())
}

/// A role visible to the company, or `None` (another company's role looks absent).
pub async fn role_visible(
    db: &impl GenericClient,
    company_id: i64,
    id: i64,
) -> Result<Option<RoleRow>, ApiError> {
    Ok(db
        .query_opt(
            "select id, company_id, name, level, create_date from role where id = $1 and (company_id is null or company_id = $2)",
            &[&id, &company_id],
        )
        .await?
        .as_ref()
        .map(role_row))
}

/// `(role_id, rule_id)` grants of the given roles.
pub async fn grants(
    db: &impl GenericClient,
    role_ids: &[i64],
) -> Result<Vec<(i64, i64)>, ApiError> {
    let rows = db
        .query(
            "select role_id, rule_id from role_rule where role_id = any($1)",
            &[&role_ids],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Checks every id names an access rule (302 otherwise).
async fn check_rules(db: &impl GenericClient, rules: &[i64]) -> Result<(), ApiError> {
    let found: i64 = db
        .query_one(
            "select count(*) from access_rule where id = any($1)",
            &[&rules],
        )
        .await?
        .get(0);
    if found != rules.len() as i64 {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// Creates a company role with its rules, in one transaction owned by the caller.
pub async fn add_role(
    tx: &impl GenericClient,
    company_id: i64,
    name: &str,
    rules: &[i64],
) -> Result<i64, ApiError> {
    check_rules(tx, rules).await?;
    let id: i64 = tx
        .query_one(
            "insert into role (company_id, name, level) values ($1, $2, 3) returning id",
            &[&company_id, &name],
        )
        .await?
        .get(0);
    set_role_rules(tx, id, rules).await?;
    Ok(id)
}

/// Renames a role; replaces its rule set when `rules` is given.
pub async fn update_role(
    tx: &impl GenericClient,
    id: i64,
    name: Option<&str>,
    rules: Option<&[i64]>,
) -> Result<(), ApiError> {
    if let Some(rules) = rules {
        check_rules(tx, rules).await?;
        set_role_rules(tx, id, rules).await?;
    }
    if let Some(name) = name {
        tx.execute("update role set name = $2 where id = $1", &[&id, &name])
            .await?;
    }
    Ok(())
}

async fn set_role_rules(tx: &impl GenericClient, id: i64, rules: &[i64]) -> Result<(), ApiError> {
    tx.execute("delete from role_rule where role_id = $1", &[&id])
        .await?;
    tx.execute(
        "insert into role_rule (role_id, rule_id) select $1, unnest($2::bigint[]) on conflict do nothing",
        &[&id, &rules],
    )
    .await?;
    Ok(())
}

/// Deletes a role that nobody holds (304 otherwise).
pub async fn delete_role(db: &impl GenericClient, id: i64) -> Result<(), ApiError> {
    let used: bool = db
        .query_one(
            "select exists (select 1 from user_profile where role_id = $1)",
            &[&id],
        )
        .await?
        .get(0);
    if used {
        return Err(ApiError::HasChildren(
            "该角色下还有用户,请先转移用户".into(),
        ));
    }
    db.execute("delete from role where id = $1", &[&id]).await?;
    Ok(())
}
