//! The WeChat client against the sandbox, over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use zhugeleida::wechat::sandbox::{self, session_key, SandboxConfig};
use zhugeleida::wechat::{WechatClient, WechatError, WechatHosts};

const CORP: &str = "wwsandbox";
const RADAR_SECRET: &str = "sandbox-ai-radar-secret";
const CONTACTS_SECRET: &str = "sandbox-tongxunlu-secret";
const MINIAPP: &str = "wxsandboxminiapp";
const MINIAPP_SECRET: &str = "sandbox-miniapp-secret";

/// A sandbox on a random loopback port and a client pointed at it.
struct TestSandbox {
    base: String,
    /// Raw HTTP for admin calls and wire-level checks; never follows redirects.
    http: reqwest::Client,
    wechat: WechatClient,
}

impl TestSandbox {
    async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(sandbox::serve(listener, SandboxConfig::demo()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let wechat = WechatClient::new(WechatHosts::sandbox(&base), reqwest::Client::new());
        Self { base, http, wechat }
    }

    /// GET `path_and_query` on the sandbox; returns the status and the JSON body.
    async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/__sandbox{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "admin {path}");
        response.json().await.unwrap()
    }

    /// Recorded calls to one upstream path.
    async fn calls(&self, path: &str) -> Vec<Value> {
        let (_, body) = self.get(&format!("/__sandbox/calls?path={path}")).await;
        body["calls"].as_array().cloned().unwrap()
    }

    async fn errcodes(&self, path: &str) -> Vec<Option<i64>> {
        self.calls(path)
            .await
            .iter()
            .map(|c| c["response"]["errcode"].as_i64())
            .collect()
    }
}

fn errcode<T: std::fmt::Debug>(result: Result<T, WechatError>) -> i64 {
    match result {
        Err(WechatError::Api { errcode, .. }) => errcode,
        other => panic!("expected a WeChat API error, got {other:?}"),
    }
}

#[tokio::test]
async fn wecom_login_turns_an_oauth_code_into_the_members_profile() {
    let sb = TestSandbox::spawn().await;

    let identity = sb
        .wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, "sandbox-rep01")
        .await
        .unwrap();
    let userid = identity.userid.clone().unwrap();
    let user = sb
        .wechat
        .wecom_user_get(CORP, RADAR_SECRET, &userid)
        .await
        .unwrap();

    assert_eq!(identity.openid, None);
    assert_eq!(user.userid, "rep01");
    assert_eq!(user.name, "销售一");
    assert_eq!(user.department, vec![2]);
    assert_eq!(user.gender, Some(1));
    assert_eq!(user.mobile.as_deref(), Some("13800000001"));
    assert!(user.avatar.is_some());
    let gettoken = sb.calls("/cgi-bin/gettoken").await;
    assert_eq!(gettoken.len(), 1);
    assert_eq!(gettoken[0]["host"], "qyapi");
    assert_eq!(gettoken[0]["query"]["corpsecret"], RADAR_SECRET);
}

#[tokio::test]
async fn legacy_getuserinfo_uses_capitalised_fields_that_the_identity_type_accepts() {
    let sb = TestSandbox::spawn().await;
    let token = sb.wechat.wecom_token(CORP, RADAR_SECRET).await.unwrap();

    let (_, member) = sb
        .get(&format!(
            "/qyapi/cgi-bin/user/getuserinfo?access_token={token}&code=sandbox-rep02"
        ))
        .await;
    let (_, outsider) = sb
        .get(&format!(
            "/qyapi/cgi-bin/user/getuserinfo?access_token={token}&code=sandbox-ext-o_guest"
        ))
        .await;

    assert_eq!(member["errcode"], 0);
    assert_eq!(member["UserId"], "rep02");
    assert!(member["DeviceId"].is_string());
    assert_eq!(outsider["OpenId"], "o_guest");
    let member: zhugeleida::wechat::WecomIdentity = serde_json::from_value(member).unwrap();
    let outsider: zhugeleida::wechat::WecomIdentity = serde_json::from_value(outsider).unwrap();
    assert_eq!(member.userid.as_deref(), Some("rep02"));
    assert_eq!(outsider.openid.as_deref(), Some("o_guest"));
}

#[tokio::test]
async fn a_non_member_wecom_code_resolves_to_an_openid() {
    let sb = TestSandbox::spawn().await;

    let identity = sb
        .wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, "sandbox-ext-o_visitor.1")
        .await
        .unwrap();

    assert_eq!(identity.userid, None);
    assert_eq!(identity.openid.as_deref(), Some("o_visitor"));
}

#[tokio::test]
async fn reusing_a_wecom_code_or_naming_an_unknown_member_gives_40029() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, "sandbox-rep03")
        .await
        .unwrap();

    let reused = sb
        .wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, "sandbox-rep03")
        .await;
    let unknown = sb
        .wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, "sandbox-nobody")
        .await;

    assert_eq!(errcode(reused), 40029);
    assert_eq!(errcode(unknown), 40029);
    // A bad code is not a bad token: no refresh, one call each.
    assert_eq!(sb.calls("/cgi-bin/gettoken").await.len(), 1);
    assert_eq!(
        sb.errcodes("/cgi-bin/auth/getuserinfo").await,
        [Some(0), Some(40029), Some(40029)]
    );
}

#[tokio::test]
async fn jscode2session_returns_the_openid_the_derived_session_key_and_the_unionid() {
    let sb = TestSandbox::spawn().await;

    let session = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_alice.login1")
        .await
        .unwrap();

    assert_eq!(session.openid, "o_alice");
    assert_eq!(session.session_key, session_key(MINIAPP, "o_alice"));
    assert_eq!(session.unionid.as_deref(), Some("u_alice"));
    assert!(!format!("{session:?}").contains(&session.session_key));
    let calls = sb.calls("/sns/jscode2session").await;
    assert_eq!(calls[0]["query"]["grant_type"], "authorization_code");
    assert_eq!(calls[0]["response"]["body_json"].get("errcode"), None);
}

#[tokio::test]
async fn jscode2session_accepts_unknown_openids_in_the_demo_seed_without_a_unionid() {
    let sb = TestSandbox::spawn().await;

    let session = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_stranger")
        .await
        .unwrap();

    assert_eq!(session.openid, "o_stranger");
    assert_eq!(session.unionid, None);
}

#[tokio::test]
async fn reusing_a_js_code_gives_40163() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_bob")
        .await
        .unwrap();

    let reused = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_bob")
        .await;

    assert_eq!(errcode(reused), 40163);
}

#[tokio::test]
async fn a_js_code_not_minted_by_the_sandbox_gives_40029() {
    let sb = TestSandbox::spawn().await;

    let garbage = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "081xYz000abc")
        .await;

    assert_eq!(errcode(garbage), 40029);
}

#[tokio::test]
async fn a_wrong_miniapp_secret_gives_40125_and_an_unknown_appid_40013() {
    let sb = TestSandbox::spawn().await;

    let wrong_secret = sb
        .wechat
        .jscode2session(MINIAPP, "not-the-secret", "sandbox-o_alice")
        .await;
    let unknown_app = sb
        .wechat
        .jscode2session("wxnope", MINIAPP_SECRET, "sandbox-o_alice")
        .await;

    assert_eq!(errcode(wrong_secret), 40125);
    assert_eq!(errcode(unknown_app), 40013);
    // The failed attempts did not burn the code.
    sb.wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_alice")
        .await
        .unwrap();
}

#[tokio::test]
async fn the_wecom_token_is_fetched_once_for_two_calls() {
    let sb = TestSandbox::spawn().await;

    sb.wechat
        .wecom_user_get(CORP, RADAR_SECRET, "rep01")
        .await
        .unwrap();
    let departments = sb
        .wechat
        .wecom_department_list(CORP, RADAR_SECRET)
        .await
        .unwrap();

    assert_eq!(departments.len(), 3);
    let gettoken = sb.calls("/cgi-bin/gettoken").await;
    assert_eq!(gettoken.len(), 1);
    let token = gettoken[0]["response"]["body_json"]["access_token"]
        .as_str()
        .unwrap();
    assert_eq!(token, "sbx_wat_1000002_1");
    let user_get = sb.calls("/cgi-bin/user/get").await;
    assert_eq!(user_get[0]["query"]["access_token"], token);
}

#[tokio::test]
async fn each_secret_gets_its_own_cached_token() {
    let sb = TestSandbox::spawn().await;

    let radar = sb.wechat.wecom_token(CORP, RADAR_SECRET).await.unwrap();
    let contacts = sb.wechat.wecom_token(CORP, CONTACTS_SECRET).await.unwrap();
    let radar_again = sb.wechat.wecom_token(CORP, RADAR_SECRET).await.unwrap();

    assert_eq!(radar, "sbx_wat_1000002_1");
    assert_eq!(contacts, "sbx_wat_contacts_2");
    assert_eq!(radar_again, radar);
    assert_eq!(sb.calls("/cgi-bin/gettoken").await.len(), 2);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_call_retried_once() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .wecom_user_get(CORP, RADAR_SECRET, "rep01")
        .await
        .unwrap();
    let expired = sb
        .admin("/tokens/expire", json!({"kind": "wecom", "id": "1000002"}))
        .await;
    assert_eq!(expired["affected"], 1);

    let user = sb
        .wechat
        .wecom_user_get(CORP, RADAR_SECRET, "rep02")
        .await
        .unwrap();

    assert_eq!(user.name, "销售二");
    assert_eq!(
        sb.errcodes("/cgi-bin/user/get").await,
        [Some(0), Some(42001), Some(0)]
    );
    let gettoken = sb.calls("/cgi-bin/gettoken").await;
    assert_eq!(gettoken.len(), 2);
    assert_eq!(
        gettoken[1]["response"]["body_json"]["access_token"],
        "sbx_wat_1000002_2"
    );
}

#[tokio::test]
async fn a_token_past_its_lifetime_on_the_virtual_clock_is_refreshed_too() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .wecom_department_list(CORP, RADAR_SECRET)
        .await
        .unwrap();
    sb.admin("/clock", json!({"advance_secs": 7200})).await;

    sb.wechat
        .wecom_department_list(CORP, RADAR_SECRET)
        .await
        .unwrap();

    assert_eq!(
        sb.errcodes("/cgi-bin/department/list").await,
        [Some(0), Some(42001), Some(0)]
    );
}

#[tokio::test]
async fn a_revoked_token_gives_40014_and_is_replaced() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .wecom_user_get(CORP, RADAR_SECRET, "rep01")
        .await
        .unwrap();
    sb.admin("/tokens/revoke", json!({"kind": "wecom", "id": CORP}))
        .await;

    sb.wechat
        .wecom_user_get(CORP, RADAR_SECRET, "rep01")
        .await
        .unwrap();

    assert_eq!(
        sb.errcodes("/cgi-bin/user/get").await,
        [Some(0), Some(40014), Some(0)]
    );
}

#[tokio::test]
async fn a_token_error_that_persists_is_retried_exactly_once() {
    let sb = TestSandbox::spawn().await;
    sb.admin(
        "/faults",
        json!({"host": "qyapi", "path": "/cgi-bin/user/get", "errcode": 42001, "times": 5}),
    )
    .await;

    let result = sb.wechat.wecom_user_get(CORP, RADAR_SECRET, "rep01").await;

    assert_eq!(errcode(result), 42001);
    assert_eq!(sb.calls("/cgi-bin/user/get").await.len(), 2);
}

#[tokio::test]
async fn an_injected_45009_surfaces_with_its_errcode_and_is_not_retried() {
    let sb = TestSandbox::spawn().await;
    sb.admin(
        "/faults",
        json!({"path": "/cgi-bin/user/get", "app": "1000002", "errcode": 45009, "times": 1}),
    )
    .await;

    let limited = sb.wechat.wecom_user_get(CORP, RADAR_SECRET, "rep01").await;
    let after = sb.wechat.wecom_user_get(CORP, RADAR_SECRET, "rep01").await;

    assert_eq!(errcode(limited), 45009);
    assert_eq!(after.unwrap().userid, "rep01");
    let calls = sb.calls("/cgi-bin/user/get").await;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["fault"], "errcode");
    assert_eq!(sb.calls("/cgi-bin/gettoken").await.len(), 1);
}

#[tokio::test]
async fn a_non_json_answer_is_a_transport_error() {
    let sb = TestSandbox::spawn().await;
    sb.admin(
        "/faults",
        json!({"path": "/sns/jscode2session", "raw_body": "<html>busy</html>"}),
    )
    .await;

    let result = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_alice")
        .await;

    assert!(
        matches!(result, Err(WechatError::Transport(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_unknown_path_answers_404_and_is_recorded() {
    let sb = TestSandbox::spawn().await;

    let (status, body) = sb.get("/qyapi/cgi-bin/agent/list?access_token=x").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errcode"], -1);
    assert!(body["errmsg"]
        .as_str()
        .unwrap()
        .starts_with("sandbox: unknown api"));
    let calls = sb.calls("/cgi-bin/agent/list").await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["host"], "qyapi");
    assert_eq!(calls[0]["response"]["status"], 404);
}

#[tokio::test]
async fn wrong_method_and_missing_token_get_their_errcodes() {
    let sb = TestSandbox::spawn().await;

    let wrong_method = sb
        .http
        .post(format!("{}/qyapi/cgi-bin/user/get", sb.base))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let (_, missing_token) = sb.get("/qyapi/cgi-bin/user/get?userid=rep01").await;

    assert_eq!(wrong_method["errcode"], 43001);
    assert_eq!(missing_token["errcode"], 41001);
    assert!(missing_token["errmsg"]
        .as_str()
        .unwrap()
        .contains("rid: sandbox-"));
}

#[tokio::test]
async fn credential_checks_reject_a_wrong_secret_and_a_wrong_corpid() {
    let sb = TestSandbox::spawn().await;

    let ok = sb.wechat.wecom_check_credentials(CORP, RADAR_SECRET).await;
    let bad_secret = sb.wechat.wecom_check_credentials(CORP, "wrong").await;
    let bad_corp = sb
        .wechat
        .wecom_check_credentials("wwother", RADAR_SECRET)
        .await;

    assert!(ok.is_ok());
    assert_eq!(errcode(bad_secret), 40001);
    assert_eq!(errcode(bad_corp), 40013);
}

#[tokio::test]
async fn the_address_book_serves_departments_and_members_from_the_seed() {
    let sb = TestSandbox::spawn().await;

    let departments = sb
        .wechat
        .wecom_department_list(CORP, CONTACTS_SECRET)
        .await
        .unwrap();
    let sales = sb
        .wechat
        .wecom_user_list(CORP, CONTACTS_SECRET, 2, false)
        .await
        .unwrap();
    let everyone = sb
        .wechat
        .wecom_user_list(CORP, CONTACTS_SECRET, 1, true)
        .await
        .unwrap();
    let tech = sb
        .wechat
        .wecom_user_list(CORP, CONTACTS_SECRET, 3, false)
        .await
        .unwrap();
    let unknown_user = sb
        .wechat
        .wecom_user_get(CORP, CONTACTS_SECRET, "ghost")
        .await;
    let unknown_dept = sb
        .wechat
        .wecom_user_list(CORP, CONTACTS_SECRET, 99, false)
        .await;

    let names: Vec<_> = departments
        .iter()
        .map(|d| (d.id, d.name.as_str(), d.parentid))
        .collect();
    assert_eq!(names, [(1, "公司", 0), (2, "销售部", 1), (3, "技术部", 1)]);
    let ids: Vec<_> = sales.iter().map(|u| u.userid.as_str()).collect();
    assert_eq!(ids, ["rep01", "rep02", "rep03"]);
    assert_eq!(everyone.len(), 3);
    assert!(tech.is_empty());
    assert_eq!(errcode(unknown_user), 60111);
    assert_eq!(errcode(unknown_dept), 60123);
}

#[tokio::test]
async fn the_authorize_page_redirects_with_a_one_time_wecom_code() {
    let sb = TestSandbox::spawn().await;
    let url = format!(
        "{}/open/connect/oauth2/authorize?appid={CORP}&redirect_uri=http%3A%2F%2Fapp.test%2Fcb%3Fx%3D1\
         &response_type=code&scope=snsapi_base&state=s1&agentid=1000002&sandbox_user=rep02",
        sb.base
    );

    let response = sb.http.get(url).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let location = url::Url::parse(&location).unwrap();
    assert_eq!(location.host_str(), Some("app.test"));
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["x"], "1");
    assert_eq!(query["state"], "s1");
    let code = &query["code"];
    let identity = sb
        .wechat
        .wecom_code_to_user(CORP, RADAR_SECRET, code)
        .await
        .unwrap();
    assert_eq!(identity.userid.as_deref(), Some("rep02"));
    let reused = sb.wechat.wecom_code_to_user(CORP, RADAR_SECRET, code).await;
    assert_eq!(errcode(reused), 40029);
}

#[tokio::test]
async fn a_minted_mini_program_code_expires_with_the_virtual_clock() {
    let sb = TestSandbox::spawn().await;
    let url = format!(
        "{}/open/connect/oauth2/authorize?appid={MINIAPP}&redirect_uri=http%3A%2F%2Fapp.test%2Fcb\
         &response_type=code&scope=snsapi_base&state=z&sandbox_user=o_carol",
        sb.base
    );
    let response = sb.http.get(url).send().await.unwrap();
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    sb.admin("/clock", json!({"advance_secs": 301})).await;

    let late = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, &code)
        .await;

    assert!(code.starts_with("sandbox-o_carol."));
    assert_eq!(errcode(late), 40029);
}

#[tokio::test]
async fn reset_clears_records_and_used_codes() {
    let sb = TestSandbox::spawn().await;
    sb.wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_alice")
        .await
        .unwrap();

    sb.admin("/reset", json!(null)).await;
    let again = sb
        .wechat
        .jscode2session(MINIAPP, MINIAPP_SECRET, "sandbox-o_alice")
        .await;

    assert!(again.is_ok());
    assert_eq!(sb.calls("/sns/jscode2session").await.len(), 1);
}
