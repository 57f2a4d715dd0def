//! `api` host, mini program: login (`sns/jscode2session`, WECHAT.md §B.1, §G.2) and
//! mini-program codes (`POST /wxa/getwxacodeunlimit`, §B.3, §G.6).
//!
//! The answer is a real PNG drawn deterministically from the scene (the same scene and width
//! always give the same bytes), so a client can store it, serve it and have it decoded.

use md5::{Digest, Md5};
use serde_json::{Map, Value};

use serde_json::json;

use super::api::{app_token, check_minted, code_subject, find_app, session_key};
use super::config::AppKind;
use super::state::{SandboxState, TokenOwner};
use super::upstream::{Host, Inbound, Outcome, Reply, Route};

/// Endpoints of this module.
pub(crate) const ROUTES: &[Route] = &[
    Route::get(Host::Api, "/sns/jscode2session", jscode2session),
    Route::post(Host::Api, "/wxa/getwxacodeunlimit", getwxacodeunlimit),
];

/// Longest accepted `scene` (B.3).
const SCENE_MAX: usize = 32;
/// Accepted `width` range and default (B.3).
const WIDTH_MIN: i64 = 280;
const WIDTH_MAX: i64 = 1280;
const WIDTH_DEFAULT: i64 = 430;

/// `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`.
pub(crate) fn jscode2session(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let appid = req.param("appid").ok_or(41002)?;
    let secret = req.param("secret").ok_or(41004)?;
    let code = req.param("js_code").ok_or(41008)?;
    if req.param("grant_type") != Some("authorization_code") {
        return Err(40002);
    }
    let app = find_app(st, appid)?;
    if app.secret != secret {
        return Err(40125);
    }
    let unionid_enabled = app.unionid;
    if st.used_js_codes.contains(code) {
        return Err(40163);
    }
    let openid = code_subject(code).ok_or(40029)?.to_owned();
    check_minted(st, code)?;
    let user = st.seed.users.iter().find(|u| u.openid == openid);
    if user.is_none() && !st.seed.allow_unknown_openid {
        return Err(40029);
    }
    let unionid = user
        .and_then(|u| u.unionid.clone())
        .filter(|_| unionid_enabled);
    st.used_js_codes.insert(code.to_owned());

    let mut body = Map::new();
    body.insert("openid".into(), json!(openid));
    body.insert("session_key".into(), json!(session_key(appid, &openid)));
    if let Some(unionid) = unionid {
        body.insert("unionid".into(), json!(unionid));
    }
    Ok(Reply::ok(Value::Object(body)))
}

/// `scene`: 1..=32 visible characters from `[0-9A-Za-z!#$&'()*+,/:;=?@-._~]` (B.3; no `%`).
pub(crate) fn valid_scene(scene: &str) -> bool {
    !scene.is_empty()
        && scene.len() <= SCENE_MAX
        && scene
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c))
}

/// A checked `getwxacodeunlimit` body.
#[derive(Debug, PartialEq, Eq)]
struct CodeRequest {
    scene: String,
    /// `None` = the home page.
    page: Option<String>,
    check_path: bool,
    env_version: String,
    width: u32,
}

/// Checks the JSON body: not a JSON object or a bad `scene` → 40169; a malformed `page`,
/// `width`, `env_version`, `check_path`, `auto_color`, `is_hyaline` or `line_color` → 40097.
fn parse_request(body: &[u8]) -> Result<CodeRequest, i64> {
    let json: Map<String, Value> = serde_json::from_slice(body).map_err(|_| 40169)?;
    let scene = json
        .get("scene")
        .and_then(Value::as_str)
        .filter(|s| valid_scene(s))
        .ok_or(40169)?
        .to_owned();
    let page = match json.get("page") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.is_empty() => None,
        Some(Value::String(p)) if !p.starts_with('/') && !p.contains('?') && p.len() <= 128 => {
            Some(p.clone())
        }
        Some(_) => return Err(40097),
    };
    let flag = |name: &str, default: bool| match json.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(40097),
    };
    let check_path = flag("check_path", true)?;
    flag("auto_color", false)?;
    flag("is_hyaline", false)?;
    if json
        .get("line_color")
        .is_some_and(|c| !(c.is_object() || c.is_null()))
    {
        return Err(40097);
    }
    let env_version = match json.get("env_version") {
        None | Some(Value::Null) => "release".to_owned(),
        Some(Value::String(v)) if matches!(v.as_str(), "release" | "trial" | "develop") => {
            v.clone()
        }
        Some(_) => return Err(40097),
    };
    let width = match json.get("width") {
        None | Some(Value::Null) => WIDTH_DEFAULT,
        Some(w) => w
            .as_i64()
            .filter(|w| (WIDTH_MIN..=WIDTH_MAX).contains(w))
            .ok_or(40097)?,
    };
    Ok(CodeRequest {
        scene,
        page,
        check_path,
        env_version,
        width: u32::try_from(width).map_err(|_| 40097)?,
    })
}

/// `POST /wxa/getwxacodeunlimit?access_token` with a JSON body (B.3): the token of a mini
/// program; `check_path` (default on) with a release page outside the app's
/// `released_pages` → 41030 (only when the seed lists pages). Success: `image/png` bytes.
pub(crate) fn getwxacodeunlimit(st: &mut SandboxState, req: &Inbound) -> Outcome {
    let is_authorizer = req
        .param("access_token")
        .and_then(|t| st.tokens.get(t))
        .is_some_and(|r| matches!(r.owner, TokenOwner::Authorizer { .. }));
    let released: Vec<String> = if is_authorizer {
        let a = super::component::authorizer(st, req)?;
        if a.kind != AppKind::Miniprogram {
            return Err(48001);
        }
        let live = st
            .code
            .get(&a.appid)
            .and_then(|c| c.released.as_ref())
            .map(|v| v.pages.clone());
        live.unwrap_or_else(|| a.released_pages.clone())
    } else {
        let app = app_token(st, req)?;
        if app.kind != AppKind::Miniprogram {
            return Err(48001);
        }
        app.released_pages.clone()
    };
    let code = parse_request(&req.body)?;
    if let Some(page) = &code.page {
        let released = &released;
        if code.check_path
            && code.env_version == "release"
            && !released.is_empty()
            && !released.contains(page)
        {
            return Err(41030);
        }
    }
    // The same scene and width always draw the same bytes: drawn once (under the state lock,
    // where a busy load run would otherwise queue every call behind the PNG encoder).
    let cache_key = (code.scene.clone(), code.width);
    let body = match st.png_cache.get(&cache_key) {
        Some(png) => png.clone(),
        None => {
            let png = code_png(&code.scene, code.width).map_err(|_| -1)?;
            if st.png_cache.len() >= 4096 {
                st.png_cache.clear();
            }
            st.png_cache.insert(cache_key, png.clone());
            png
        }
    };
    Ok(Reply::Image {
        content_type: "image/png",
        scene: code.scene,
        body,
    })
}

/// Modules per side of the drawn code, and the quiet zone around it, in modules.
const MODULES: u32 = 25;
const QUIET: u32 = 2;

/// A `width`×`width` grayscale PNG that looks like a QR code: three finder squares and a
/// module pattern taken from `md5(scene + "#" + n)`.
pub(crate) fn code_png(scene: &str, width: u32) -> Result<Vec<u8>, png::EncodingError> {
    let bits: Vec<u8> = (0..(MODULES * MODULES).div_ceil(128))
        .flat_map(|n| Md5::digest(format!("{scene}#{n}").as_bytes()))
        .collect();
    let dark = |row: u32, col: u32| -> bool {
        if let Some(finder) = finder_module(row, col) {
            return finder;
        }
        let i = usize::try_from(row * MODULES + col).unwrap_or_default();
        bits.get(i / 8).is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    };
    let cells = MODULES + 2 * QUIET;
    let scale = (width / cells).max(1);
    let size = width.max(cells * scale);
    let offset = (size - cells * scale) / 2 + QUIET * scale;
    let drawn = MODULES * scale;
    let mut pixels = Vec::with_capacity(usize::try_from(size * size).unwrap_or_default());
    for y in 0..size {
        for x in 0..size {
            let inside =
                (offset..offset + drawn).contains(&x) && (offset..offset + drawn).contains(&y);
            let black = inside && dark((y - offset) / scale, (x - offset) / scale);
            pixels.push(if black { 0 } else { 255 });
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size, size);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// Whether a module belongs to one of the three 7×7 finder squares (with their light
/// separator), and if so whether it is dark.
fn finder_module(row: u32, col: u32) -> Option<bool> {
    let far = MODULES - 8;
    let corners = [(0, 0), (0, far + 1), (far + 1, 0)];
    for (top, left) in corners {
        // The separator ring is one module wider on the inner sides.
        let (r0, c0) = (top.saturating_sub(1), left.saturating_sub(1));
        if (r0..top + 8).contains(&row) && (c0..left + 8).contains(&col) {
            let (r, c) = (
                i64::from(row) - i64::from(top),
                i64::from(col) - i64::from(left),
            );
            if !(0..7).contains(&r) || !(0..7).contains(&c) {
                return Some(false);
            }
            let ring = r == 0 || r == 6 || c == 0 || c == 6;
            let core = (2..=4).contains(&r) && (2..=4).contains(&c);
            return Some(ring || core);
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use axum::body::Bytes;
    use axum::http::Method;
    use serde_json::json;

    use super::super::config::{AppSeed, SandboxConfig};
    use super::super::upstream::Host;
    use super::*;

    #[test]
    fn scene_allows_the_documented_charset_up_to_32_chars() {
        assert!(valid_scene("uid=42"));
        assert!(valid_scene("a=1&b=2"));
        assert!(valid_scene("!#$&'()*+,/:;=?@-._~AZaz09"));
        assert!(valid_scene(&"x".repeat(32)));
        assert!(!valid_scene(&"x".repeat(33)));
        assert!(!valid_scene(""));
        assert!(!valid_scene("100%"));
        assert!(!valid_scene("a b"));
        assert!(!valid_scene("uid=\"1\""));
        assert!(!valid_scene("用户=1"));
        assert!(!valid_scene("a\nb"));
    }

    #[test]
    fn the_body_is_checked_field_by_field() {
        let parse = |v: Value| parse_request(v.to_string().as_bytes());
        assert_eq!(
            parse(json!({"scene": "uid=7"})),
            Ok(CodeRequest {
                scene: "uid=7".into(),
                page: None,
                check_path: true,
                env_version: "release".into(),
                width: 430,
            })
        );
        assert_eq!(parse_request(b"scene=uid%3D7"), Err(40169));
        assert_eq!(parse(json!(["uid=7"])), Err(40169));
        assert_eq!(parse(json!({})), Err(40169));
        assert_eq!(parse(json!({"scene": 7})), Err(40169));
        assert_eq!(parse(json!({"scene": "x".repeat(33)})), Err(40169));
        assert_eq!(parse(json!({"scene": "a", "width": 279})), Err(40097));
        assert_eq!(parse(json!({"scene": "a", "width": 1281})), Err(40097));
        assert_eq!(parse(json!({"scene": "a", "width": "430"})), Err(40097));
        assert_eq!(
            parse(json!({"scene": "a", "width": 1280})).unwrap().width,
            1280
        );
        assert_eq!(
            parse(json!({"scene": "a", "env_version": "beta"})),
            Err(40097)
        );
        assert_eq!(parse(json!({"scene": "a", "page": "/pages/x"})), Err(40097));
        assert_eq!(
            parse(json!({"scene": "a", "page": "pages/x?a=1"})),
            Err(40097)
        );
        assert_eq!(
            parse(json!({"scene": "a", "check_path": "yes"})),
            Err(40097)
        );
        assert_eq!(parse(json!({"scene": "a", "line_color": 0})), Err(40097));
        let ok = parse(
            json!({"scene": "a", "page": "pages/card/index", "check_path": false,
                              "env_version": "trial", "is_hyaline": true,
                              "line_color": {"r": 0, "g": 0, "b": 0}}),
        )
        .unwrap();
        assert_eq!(ok.page.as_deref(), Some("pages/card/index"));
        assert!(!ok.check_path);
    }

    fn state_with_pages(pages: &[&str]) -> SandboxState {
        let mut seed = SandboxConfig::demo();
        seed.apps.push(AppSeed {
            appid: "wxoa".into(),
            secret: "oa-secret".into(),
            kind: AppKind::Mp,
            unionid: false,
            released_pages: vec![],
        });
        seed.apps[0].released_pages = pages.iter().map(|p| (*p).to_owned()).collect();
        SandboxState::new(seed)
    }

    fn inbound(path: &str, query: &[(&str, &str)], body: Value) -> Inbound {
        Inbound {
            seq: 1,
            host: Host::Api,
            method: Method::POST,
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            sandbox_user_cookie: None,
            body: Bytes::from(body.to_string()),
        }
    }

    fn token(st: &mut SandboxState, appid: &str, secret: &str) -> String {
        let req = inbound(
            "/cgi-bin/token",
            &[
                ("grant_type", "client_credential"),
                ("appid", appid),
                ("secret", secret),
            ],
            Value::Null,
        );
        match super::super::api::token(st, &req) {
            Ok(Reply::Json { body, .. }) => body["access_token"].as_str().unwrap().to_owned(),
            _ => panic!("no token"),
        }
    }

    fn call(st: &mut SandboxState, token: &str, body: Value) -> Result<(String, Vec<u8>), i64> {
        let req = inbound("/wxa/getwxacodeunlimit", &[("access_token", token)], body);
        match getwxacodeunlimit(st, &req)? {
            Reply::Image {
                scene,
                body,
                content_type,
            } => {
                assert_eq!(content_type, "image/png");
                Ok((scene, body))
            }
            _ => panic!("not an image"),
        }
    }

    #[test]
    fn a_valid_call_answers_a_deterministic_png_of_the_requested_width() {
        let mut st = state_with_pages(&[]);
        let t = token(&mut st, "wxsandboxminiapp", "sandbox-miniapp-secret");
        let (scene, a) = call(&mut st, &t, json!({"scene": "uid=1", "width": 280})).unwrap();
        assert_eq!(scene, "uid=1");
        let (_, again) = call(&mut st, &t, json!({"scene": "uid=1", "width": 280})).unwrap();
        let (_, other) = call(&mut st, &t, json!({"scene": "uid=2", "width": 280})).unwrap();
        assert_eq!(a, again);
        assert_ne!(a, other);
        assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
        let mut reader = png::Decoder::new(std::io::Cursor::new(a))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (280, 280));
        let pixels = &buf[..info.buffer_size()];
        assert!(pixels.contains(&0) && pixels.contains(&255));
        // Any page is accepted while the seed lists none.
        assert!(call(
            &mut st,
            &t,
            json!({"scene": "a", "page": "pages/nope/index"})
        )
        .is_ok());
    }

    #[test]
    fn tokens_are_checked_before_the_body() {
        let mut st = state_with_pages(&[]);
        let body = json!({"scene": "uid=1"});
        let req = inbound("/wxa/getwxacodeunlimit", &[], body.clone());
        assert!(matches!(getwxacodeunlimit(&mut st, &req), Err(41001)));
        assert_eq!(call(&mut st, "sbx_at_unknown_1", body.clone()), Err(40001));
        let oa = token(&mut st, "wxoa", "oa-secret");
        assert_eq!(call(&mut st, &oa, body.clone()), Err(48001));
        let t = token(&mut st, "wxsandboxminiapp", "sandbox-miniapp-secret");
        assert_eq!(call(&mut st, &t, json!({"scene": "50%"})), Err(40169));
        st.clock.advance(7200);
        assert_eq!(call(&mut st, &t, body), Err(42001));
    }

    #[test]
    fn check_path_needs_a_released_page_when_pages_are_modelled() {
        let mut st = state_with_pages(&["pages/index/index", "pages/card/index"]);
        let t = token(&mut st, "wxsandboxminiapp", "sandbox-miniapp-secret");
        let with_page = |page: &str, check: bool, env: &str| json!({"scene": "uid=1", "page": page, "check_path": check, "env_version": env});
        assert!(call(&mut st, &t, with_page("pages/card/index", true, "release")).is_ok());
        assert_eq!(
            call(&mut st, &t, with_page("pages/new/index", true, "release")),
            Err(41030)
        );
        assert!(call(&mut st, &t, with_page("pages/new/index", false, "release")).is_ok());
        assert!(call(&mut st, &t, with_page("pages/new/index", true, "develop")).is_ok());
        assert!(call(&mut st, &t, json!({"scene": "uid=1"})).is_ok());
    }
}
