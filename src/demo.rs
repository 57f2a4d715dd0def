//! The demo tenant: a platform operator, one company wired to the WeChat sandbox's demo
//! corp, its admin, three salespeople, departments, access rules and a few customers.
//! Loading twice changes nothing.

use serde_json::{json, Value};

use crate::{
    db::{self, company::AppRow, customer::WechatIdentity, user::NewStaff},
    domain::{password, role, secret::Secret},
    state::AppState,
};

pub const OPERATOR: (&str, &str) = ("operator", "Operator2026");
pub const ADMIN: (&str, &str) = ("admin", "Admin2026");
pub const SALES: [(&str, &str, &str); 3] = [
    ("sales1", "rep01", "销售一"),
    ("sales2", "rep02", "销售二"),
    ("sales3", "rep03", "销售三"),
];
pub const SALES_PASSWORD: &str = "Sales2026";
pub const COMPANY: &str = "诸葛雷达演示公司";

/// Loads the demo data (once) and returns the logins to print.
pub async fn load(state: &AppState) -> anyhow::Result<Value> {
    let mut client = state.db.get().await?;
    let exists = db::user::find_login(&client, OPERATOR.0)
        .await
        .map_err(err)?
        .is_some();
    if !exists {
        let tx = client.transaction().await?;
        let platform = crate::cli::create_company(&tx, "诸葛雷达平台", 5, None).await?;
        let company = crate::cli::create_company(&tx, COMPANY, 20, Some(12)).await?;
        let staff =
            |company_id, role_id, login: &str, userid: Option<&str>, name: &str, pass: &str| {
                let mut s =
                    NewStaff::with_login(company_id, role_id, login, name, password::hash(pass)?);
                s.userid = userid.map(str::to_owned);
                Ok::<_, anyhow::Error>(s)
            };
        db::user::insert(
            &tx,
            &staff(
                platform,
                role::OPERATOR_ROLE,
                OPERATOR.0,
                None,
                "平台运营",
                OPERATOR.1,
            )?,
        )
        .await
        .map_err(err)?;
        db::user::insert(
            &tx,
            &staff(
                company,
                role::ADMIN_ROLE,
                ADMIN.0,
                None,
                "演示管理员",
                ADMIN.1,
            )?,
        )
        .await
        .map_err(err)?;
        let mut reps = Vec::new();
        for (login, userid, name) in SALES {
            let mut s = staff(
                company,
                role::MEMBER_ROLE,
                login,
                Some(userid),
                name,
                SALES_PASSWORD,
            )?;
            s.position = Some("销售".into());
            reps.push(db::user::insert(&tx, &s).await.map_err(err)?);
        }
        tx.execute("update user_profile set is_reset_password = true", &[])
            .await?;
        db::company::set_tongxunlu(&tx, company, "wwsandbox", "sandbox-tongxunlu-secret", true)
            .await
            .map_err(err)?;
        for (app_type, agent_id, secret, name) in [
            (1i16, 1000002i64, "sandbox-ai-radar-secret", "AI雷达"),
            (2, 1000003, "sandbox-boss-radar-secret", "Boss雷达"),
        ] {
            let app = AppRow {
                app_type,
                name: name.into(),
                agent_id,
                app_secret: Secret::new(secret),
                is_validate: true,
            };
            db::company::upsert_app(&tx, company, &app)
                .await
                .map_err(err)?;
        }
        for (wid, name) in [(2i64, "销售部"), (3, "技术部")] {
            db::company::upsert_department(&tx, company, wid, name)
                .await
                .map_err(err)?;
        }
        for rep in &reps {
            db::user::link_wecom_departments(&tx, *rep, company, &[2])
                .await
                .map_err(err)?;
        }
        let rules = [
            ("用户管理", "yonghu"),
            ("角色管理", "juese"),
            ("公司管理", "gongsi"),
        ];
        let mut parents = Vec::new();
        for (name, path) in rules {
            let id = db::org::add_rule(
                &tx,
                &db::org::RuleInput {
                    name: name.into(),
                    url_path: path.into(),
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
            parents.push(id);
        }
        for (i, (name, path)) in [("用户增加", "yonghu_add"), ("角色增加", "juese_add")]
            .into_iter()
            .enumerate()
        {
            db::org::add_rule(
                &tx,
                &db::org::RuleInput {
                    name: name.into(),
                    url_path: path.into(),
                    super_id: parents.get(i).copied(),
                    ..Default::default()
                },
            )
            .await
            .map_err(err)?;
        }
        tx.execute(
            "insert into role_rule (role_id, rule_id) select r.id, a.id from role r cross join access_rule a where r.id in (1, 2)",
            &[],
        )
        .await?;
        for (i, (openid, nick)) in [("o_alice", "Alice"), ("o_bob", "Bob"), ("o_carol", "Carol")]
            .into_iter()
            .enumerate()
        {
            let (cid, _) = db::customer::login(
                &tx,
                &WechatIdentity {
                    company_id: company,
                    openid: openid.into(),
                    unionid: None,
                    session_key: None,
                    user_type: 2,
                    username: Some(nick.into()),
                    headimgurl: None,
                    sex: None,
                },
            )
            .await
            .map_err(err)?;
            if let Some(rep) = reps.first() {
                db::customer::relate(&tx, company, *rep, cid, if i == 2 { 2 } else { 1 })
                    .await
                    .map_err(err)?;
            }
        }
        tx.commit().await?;
    }
    let admin = db::user::find_login(&client, ADMIN.0).await.map_err(err)?;
    let company = admin.as_ref().map(|u| u.company_id);
    let id_of = |row: Option<db::user::StaffRow>| row.map(|u| u.id);
    let operator_id = id_of(
        db::user::find_login(&client, OPERATOR.0)
            .await
            .map_err(err)?,
    );
    let mut salespeople = Vec::new();
    for (l, u, n) in SALES {
        let id = id_of(db::user::find_login(&client, l).await.map_err(err)?);
        salespeople.push(json!({"user_id": id, "username": l, "password": SALES_PASSWORD, "wecom_userid": u, "name": n, "wecom_login_code": format!("sandbox-{u}.<any suffix, new each time>")}));
    }
    Ok(json!({
        "platform_operator": {"user_id": operator_id, "username": OPERATOR.0, "password": OPERATOR.1, "role": "超级管理员"},
        "company_admin": {"user_id": admin.as_ref().map(|u| u.id), "username": ADMIN.0, "password": ADMIN.1, "company": COMPANY, "company_id": company},
        "salespeople": salespeople,
        "mini_program_login_code": "sandbox-<any openid>.<any suffix, new each time>, e.g. sandbox-o_alice.1, with uid=<a salesperson's user_id>",
        "is_reset_password": "true for every demo login: the demo's passwords count as already changed, so the admin web does not force ADM-02 (modify_password) at first login",
    }))
}

/// Copy-paste examples for the printed logins: URLs, a salesperson call, a customer login and
/// call, and the WebSocket.
pub fn guide(logins: &Value, server: &str, sandbox: &str) -> String {
    let company = logins["company_admin"]["company_id"].as_i64().unwrap_or(0);
    let rep = logins["salespeople"][0]["user_id"].as_i64().unwrap_or(0);
    format!(
        "\
server:        {server}   (API: {server}/openapi.json, metrics: {server}/metrics)
WeChat sandbox: {sandbox}
salesperson sales1 (user_id {rep}) in company {company}:
  zhugeleida call --as sales1 GET /zhugeleida/qiyeweixin/tongxunlu
  curl -s \"{server}/zhugeleida/qiyeweixin/work_weixin_auth/{company}?code=sandbox-rep01.$(date +%s%N)\"   # WeCom login
customer (mini program) of sales1 (uid={rep}):
  curl -s \"{server}/zhugeleida/xiaochengxu/login?code=sandbox-o_alice.$(date +%s%N)&uid={rep}\"
  zhugeleida call --as customer:o_alice@{rep} GET /zhugeleida/xiaochengxu/mingpian uid={rep}
WebSocket (radar and chat frames of sales1; run the customer call above in another terminal):
  zhugeleida watch --as sales1
"
    )
}

fn err(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.msg(), e)
}

/// The pages to open (docs/screens.md) on a server at `base`, for the printed demo logins.
pub fn screens(base: &str, printed: &Value) -> Value {
    let company = &printed["company_admin"]["company_id"];
    let rep = &printed["salespeople"][0]["user_id"];
    json!({
        "salesperson_workspace": format!("{base}/h5/"),
        "salesperson_workspace_via_wecom": format!("{base}/h5/?company_id={company}&code=sandbox-rep01.<any suffix, new each time>"),
        "admin_console": format!("{base}/console/"),
        "customer_card_of_sales1": format!("{base}/c/?uid={rep}"),
        "customer_card_as_alice": format!("{base}/c/?uid={rep}&code=sandbox-o_alice.<any suffix>"),
        "logins": "workspace: sales1 / Sales2026; console: admin / Admin2026 (operator / Operator2026); customers sign in through the sandbox mini program",
    })
}
