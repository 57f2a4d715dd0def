//! `/openapi.json`: the OpenAPI 3.1 document of every routed path, assembled at start from
//! `docs/openapi-base.json` (info, the legacy signing, the envelope) and the fragments
//! `docs/openapi/*.json` (each `{"paths": {...}}`, optionally `"components"`), embedded at
//! build time by `build.rs`. tests/openapi.rs checks it against the route table.

use std::sync::OnceLock;

use axum::{
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value};

use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/openapi_fragments.rs"));

const BASE: &str = include_str!("../../docs/openapi-base.json");

/// The merged document, or what is wrong with a fragment (a parse error, a fragment without
/// `paths`, or one method of one path documented twice).
pub fn document() -> Result<Value, String> {
    let mut doc: Value =
        serde_json::from_str(BASE).map_err(|e| format!("docs/openapi-base.json: {e}"))?;
    for (name, text) in FRAGMENTS {
        let frag: Value =
            serde_json::from_str(text).map_err(|e| format!("docs/openapi/{name}: {e}"))?;
        let paths = frag
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("docs/openapi/{name}: no \"paths\" object"))?;
        let into = object_at(&mut doc, &["paths"])?;
        for (path, item) in paths {
            let item = item
                .as_object()
                .ok_or_else(|| format!("docs/openapi/{name}: {path} is not an object"))?;
            let slot = into
                .entry(path.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let slot = slot
                .as_object_mut()
                .ok_or_else(|| format!("{path}: not an object"))?;
            for (method, op) in item {
                if slot.insert(method.clone(), op.clone()).is_some() {
                    return Err(format!(
                        "docs/openapi/{name}: {method} {path} is documented twice"
                    ));
                }
            }
        }
        if let Some(components) = frag.get("components").and_then(Value::as_object) {
            for (kind, entries) in components {
                let entries = entries.as_object().ok_or_else(|| {
                    format!("docs/openapi/{name}: components.{kind} is not an object")
                })?;
                let into = object_at(&mut doc, &["components", kind])?;
                for (k, v) in entries {
                    if into
                        .insert(k.clone(), v.clone())
                        .is_some_and(|old| old != *v)
                    {
                        return Err(format!(
                            "docs/openapi/{name}: components.{kind}.{k} differs from another fragment's"
                        ));
                    }
                }
            }
        }
    }
    Ok(doc)
}

fn object_at<'a>(doc: &'a mut Value, keys: &[&str]) -> Result<&'a mut Map<String, Value>, String> {
    let mut at = doc;
    for k in keys {
        at = at
            .as_object_mut()
            .ok_or_else(|| format!("{k}: parent is not an object"))?
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    at.as_object_mut()
        .ok_or_else(|| format!("{}: not an object", keys.join(".")))
}

/// `GET /openapi.json`.
pub async fn serve() -> Response {
    static DOC: OnceLock<Result<String, String>> = OnceLock::new();
    let doc = DOC.get_or_init(|| document().map(|d| d.to_string()));
    match doc {
        Ok(text) => {
            let mut resp = text.clone().into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(e) => ApiError::Unexpected(anyhow::anyhow!("OpenAPI document: {e}")).into_response(),
    }
}
