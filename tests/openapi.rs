#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `/openapi.json` documents exactly the routed paths: every path of the route table is in the
//! document and every documented path is routed. A new endpoint needs its fragment in
//! `docs/openapi/<area>.json`.
mod common;

use std::collections::BTreeSet;

use common::spawn_app;
use zhugeleida::api::{openapi, routed_paths};

#[test]
fn every_routed_path_is_documented_and_every_documented_path_is_routed() {
    let doc = openapi::document().unwrap_or_else(|e| panic!("assembling the document: {e}"));
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    // axum's catch-all `{*path}` is OpenAPI's `{path}`.
    let routed: BTreeSet<String> = routed_paths()
        .into_iter()
        .map(|p| p.replace("{*", "{"))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed but not in docs/openapi/*.json: {undocumented:#?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented in docs/openapi/*.json but not routed: {unrouted:#?}"
    );
    assert!(
        routed.len() > 90,
        "the table lists every surface: {}",
        routed.len()
    );
}

#[test]
fn every_operation_has_a_summary_and_answers_in_the_envelope_or_says_what_it_answers() {
    let doc = openapi::document().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let ops = item.as_object().unwrap();
        assert!(!ops.is_empty(), "{path}: at least one operation");
        for (method, op) in ops {
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}: summary"
            );
            assert!(op["responses"].is_object(), "{method} {path}: responses");
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for name in path.split('/').filter_map(|s| s.strip_prefix('{')) {
                let name = name.trim_end_matches('}');
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path"),
                    "{method} {path}: path parameter {name} documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_at_openapi_json_with_the_signing_described() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/openapi.json", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc, openapi::document().unwrap());
    let info = doc["info"]["description"].as_str().unwrap();
    assert!(info.contains("md5(timestamp + token)"), "{info}");
    assert_eq!(
        doc["components"]["securitySchemes"]["rand_str"]["in"],
        "query"
    );
    assert!(doc["paths"]["/zhugeleida/admin/login"]["post"]["security"]
        .as_array()
        .is_some_and(|s| s.is_empty()));
}
