#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The salesperson's card tags and phone (QYW-47..51) and follow-up phrases (QYW-42..44),
//! with another company's ids tried on each.
mod common;

use common::spawn_app;
use serde_json::json;

#[tokio::test]
async fn card_tags_are_created_saved_listed_and_deleted() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let (_, _, other) = app.tenant("乙").await;
    let r = app
        .post("/zhugeleida/qiyeweixin/tag_user/add")
        .signed(&rep)
        .form(&[("name", "有志青年")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "添加成功");
    let t1 = r.data()[0]["id"].as_i64().unwrap();
    assert_eq!(r.data()[0]["name"], "有志青年");
    let t2 = app
        .post("/zhugeleida/qiyeweixin/tag_user/add")
        .signed(&rep)
        .form(&[("name", "靠谱人士")])
        .send()
        .await
        .ok()
        .data()[0]["id"]
        .as_i64()
        .unwrap();
    let list = app
        .get("/zhugeleida/qiyeweixin/tag_user")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(
        list.data(),
        &json!({"user_id": rep.user_id.to_string(), "ret_data": [{"id": t1, "name": "有志青年"}, {"id": t2, "name": "靠谱人士"}], "data_count": 2})
    );
    // save replaces the set
    let r = app
        .post("/zhugeleida/qiyeweixin/tag_user/save")
        .signed(&rep)
        .form(&[("tag_list", &format!("[{t2}]"))])
        .send()
        .await
        .ok();
    assert_eq!(r.data(), &json!([]));
    let list = app
        .get("/zhugeleida/qiyeweixin/tag_user")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 1);
    // another company's tag cannot be put on a card nor deleted: 302, nothing changes
    let foreign = app
        .post("/zhugeleida/qiyeweixin/tag_user/add")
        .signed(&other)
        .form(&[("name", "乙方标签")])
        .send()
        .await
        .ok()
        .data()[0]["id"]
        .as_i64()
        .unwrap();
    app.post("/zhugeleida/qiyeweixin/tag_user/save")
        .signed(&rep)
        .form(&[("tag_list", &format!("[{t2},{foreign}]"))])
        .send()
        .await
        .expect_code(302);
    app.post("/zhugeleida/qiyeweixin/tag_user/delete")
        .signed(&rep)
        .form(&[("id", &foreign.to_string())])
        .send()
        .await
        .expect_code(302);
    let theirs = app
        .get("/zhugeleida/qiyeweixin/tag_user")
        .signed(&other)
        .send()
        .await
        .ok();
    assert_eq!(theirs.data()["data_count"], 1);
    let mine = app
        .get("/zhugeleida/qiyeweixin/tag_user")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert!(
        !mine.raw.contains("\\u4e59\\u65b9"),
        "no foreign names: {}",
        mine.raw
    );
    // delete (by field, or by a trailing path segment, A-72)
    let r = app
        .post("/zhugeleida/qiyeweixin/tag_user/delete")
        .signed(&rep)
        .form(&[("id", &t2.to_string())])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    app.post(&format!("/zhugeleida/qiyeweixin/tag_user/delete/{t2}"))
        .signed(&rep)
        .send()
        .await
        .expect_code(302);
    assert_eq!(
        app.get("/zhugeleida/qiyeweixin/tag_user")
            .signed(&rep)
            .send()
            .await
            .ok()
            .data()["data_count"],
        0
    );
    app.post("/zhugeleida/qiyeweixin/tag_user/add")
        .signed(&rep)
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/qiyeweixin/tag_user/save")
        .signed(&rep)
        .form(&[("tag_list", "[x]")])
        .send()
        .await
        .expect_code(301);
}

#[tokio::test]
async fn the_card_phone_is_validated_and_saved() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let r = app
        .post("/zhugeleida/qiyeweixin/tag_user/save_phone")
        .signed(&rep)
        .form(&[("mingpian_phone", "18511125018"), ("id", "1")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功", "A-71 keeps the documented msg");
    let phone: Option<String> = app
        .db()
        .await
        .query_one(
            "select mingpian_phone from user_profile where id = $1",
            &[&rep.user_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(phone.as_deref(), Some("18511125018"));
    app.post("/zhugeleida/qiyeweixin/tag_user/save_phone")
        .signed(&rep)
        .form(&[("phone", "not a phone")])
        .send()
        .await
        .expect_code(303);
    app.post("/zhugeleida/qiyeweixin/tag_user/save_phone")
        .signed(&rep)
        .send()
        .await
        .expect_code(303);
}

#[tokio::test]
async fn follow_up_phrases_list_own_first_then_presets_and_only_own_ones_delete() {
    let app = spawn_app().await;
    let (_, _, rep) = app.tenant("甲").await;
    let (_, _, other) = app.tenant("乙").await;
    let list = app
        .get("/zhugeleida/qiyeweixin/follow_language")
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 9, "the company's presets");
    assert_eq!(
        list.data()["ret_data"][0]["user_id"],
        rep.user_id.to_string()
    );
    let r = app
        .post("/zhugeleida/qiyeweixin/follow_language/add/0")
        .signed(&rep)
        .form(&[("custom_language", "呵呵呵, 明天再打")])
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功", "A-06 keeps the documented msg");
    app.post("/zhugeleida/qiyeweixin/follow_language/add/0")
        .signed(&other)
        .form(&[("custom_language", "乙方的话")])
        .send()
        .await
        .ok();
    let list = app
        .get("/zhugeleida/qiyeweixin/follow_language")
        .signed(&rep)
        .query(&[("length", "3")])
        .send()
        .await
        .ok();
    assert_eq!(list.data()["data_count"], 10);
    let phrases = list.data()["ret_data"][0]["follow_language"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(phrases.len(), 3);
    assert_eq!(phrases[0]["language"], "呵呵呵, 明天再打");
    assert_eq!(
        phrases[1]["language"], "已成交客户,维护好后续关系",
        "presets newest first"
    );
    assert!(
        !list.raw.contains("\\u4e59\\u65b9"),
        "no other company's phrases"
    );
    let own = phrases[0]["language_id"].as_i64().unwrap();
    let preset = phrases[1]["language_id"].as_i64().unwrap();
    // presets and another salesperson's phrases are not deletable: 302
    app.post(&format!(
        "/zhugeleida/qiyeweixin/follow_language/delete/{preset}"
    ))
    .signed(&rep)
    .send()
    .await
    .expect_code(302);
    app.post(&format!(
        "/zhugeleida/qiyeweixin/follow_language/delete/{own}"
    ))
    .signed(&other)
    .send()
    .await
    .expect_code(302);
    let r = app
        .post(&format!(
            "/zhugeleida/qiyeweixin/follow_language/delete/{own}"
        ))
        .signed(&rep)
        .send()
        .await
        .ok();
    assert_eq!(r.msg(), "删除成功");
    assert_eq!(
        app.get("/zhugeleida/qiyeweixin/follow_language")
            .signed(&rep)
            .send()
            .await
            .ok()
            .data()["data_count"],
        9
    );
    app.post("/zhugeleida/qiyeweixin/follow_language/add/0")
        .signed(&rep)
        .send()
        .await
        .expect_code(303);
}
