//! The rich-content formats of API.md 1.11 (products, goods, website, feedback) and the image
//! paths inside them: validated once at the edge, then stored verbatim. Each parser returns
//! the image paths it found so the service can check that they name stored images.

use serde_json::Value;

/// Longest JSON text accepted in one content field.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;
/// Most elements in any one array of a content blob.
const MAX_ITEMS: usize = 200;
/// Longest text element (titles, paragraphs, feedback text).
const MAX_TEXT_CHARS: usize = 20_000;
/// Longest image path.
const MAX_PATH: usize = 300;

/// Image file kinds PUB-01/02 keep (JPEG, PNG, GIF, WebP).
const IMAGE_EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "gif", "webp"];

/// An invalid content blob; the text is the client's message (code 303).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid(pub String);

type R<T> = Result<T, Invalid>;

fn bad<T>(msg: impl Into<String>) -> R<T> {
    Err(Invalid(msg.into()))
}

/// A `statics/...` path of an uploaded image (API.md 1.9): relative, inside `statics/`, no
/// `..`, empty or hidden segments, only `[A-Za-z0-9._-]` in names, an image extension.
pub fn image_path(p: &str) -> bool {
    if p.len() > MAX_PATH || !p.starts_with("statics/") {
        return false;
    }
    let segments: Vec<&str> = p.split('/').collect();
    let names_ok = segments.iter().all(|s| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    });
    let ext_ok = segments
        .last()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, ext)| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
        .unwrap_or(false);
    names_ok && ext_ok
}

/// An optional image field (plugin card avatar / QR code): empty, or an image path.
pub fn optional_image(field: &str, v: Option<&str>) -> R<Vec<String>> {
    match v {
        None => Ok(vec![]),
        Some(p) if image_path(p) => Ok(vec![p.to_owned()]),
        Some(_) => bad(format!("{field} 不是有效的图片路径 (statics/...)")),
    }
}

fn parse(field: &str, raw: &str) -> R<Value> {
    if raw.len() > MAX_CONTENT_BYTES {
        return bad(format!("{field} 过长"));
    }
    serde_json::from_str(raw).or_else(|_| bad(format!("{field} 不是有效的 JSON")))
}

fn array<'a>(at: &str, v: &'a Value) -> R<&'a Vec<Value>> {
    match v.as_array() {
        Some(a) if a.len() <= MAX_ITEMS => Ok(a),
        Some(_) => bad(format!("{at} 元素过多")),
        None => bad(format!("{at} 应为数组")),
    }
}

fn text<'a>(at: &str, v: &'a Value) -> R<&'a str> {
    match v.as_str() {
        Some(s) if s.chars().count() <= MAX_TEXT_CHARS => Ok(s),
        Some(_) => bad(format!("{at} 过长")),
        None => bad(format!("{at} 应为字符串")),
    }
}

fn image(at: &str, v: &Value, images: &mut Vec<String>) -> R<()> {
    let p = text(at, v)?;
    if !image_path(p) {
        return bad(format!("{at} 不是有效的图片路径 (statics/...)"));
    }
    images.push(p.to_owned());
    Ok(())
}

fn type_of<'a>(at: &str, item: &'a Value) -> R<&'a str> {
    if !item.is_object() {
        return bad(format!("{at} 应为对象"));
    }
    item.get("type")
        .and_then(Value::as_str)
        .map_or_else(|| bad(format!("{at}.type 不能为空")), Ok)
}

/// `[{"type": …, "data": [strings]}]` where `types` lists the allowed types; `picture_url`
/// data are image paths.
fn typed_blocks(at: &str, v: &Value, types: &[&str], images: &mut Vec<String>) -> R<()> {
    for (i, item) in array(at, v)?.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let t = type_of(&at, item)?;
        if !types.contains(&t) {
            return bad(format!("{at}.type 只能是 {}", types.join(" | ")));
        }
        let data = item
            .get("data")
            .map_or_else(|| bad(format!("{at}.data 不能为空")), Ok)?;
        for (j, d) in array(&format!("{at}.data"), data)?.iter().enumerate() {
            let at = format!("{at}.data[{j}]");
            if t == "picture_url" {
                image(&at, d, images)?;
            } else {
                text(&at, d)?;
            }
        }
    }
    Ok(())
}

/// A validated blob: the text to store (the client's, verbatim) and the images it names.
#[derive(Debug)]
pub struct Checked {
    pub text: String,
    pub images: Vec<String>,
}

/// A product's `content` (`{cover_data, article_data}`, both optional). Also returns the
/// `cover_data` member as JSON text (`[]` when absent) for the list.
pub fn product(raw: &str) -> R<(Checked, String)> {
    let v = parse("content", raw)?;
    let Some(obj) = v.as_object() else {
        return bad("content 应为对象 {cover_data, article_data}");
    };
    let mut images = vec![];
    for key in obj.keys() {
        if key != "cover_data" && key != "article_data" {
            return bad(format!("content 不支持字段 {key}"));
        }
    }
    let cover = obj
        .get("cover_data")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    typed_blocks("cover_data", &cover, &["picture_url"], &mut images)?;
    if let Some(a) = obj.get("article_data") {
        typed_blocks(
            "article_data",
            a,
            &["title", "picture_url", "content"],
            &mut images,
        )?;
    }
    Ok((
        Checked {
            text: raw.to_owned(),
            images,
        },
        cover.to_string(),
    ))
}

/// Goods `content`: `{goods_data: [{price, introduce, inventory_num, person_limit_num}],
/// cover_data}`; at least one SKU.
pub fn goods(raw: &str) -> R<Checked> {
    let v = parse("content", raw)?;
    let Some(obj) = v.as_object() else {
        return bad("content 应为对象 {goods_data, cover_data}");
    };
    let mut images = vec![];
    for key in obj.keys() {
        if key != "cover_data" && key != "goods_data" {
            return bad(format!("content 不支持字段 {key}"));
        }
    }
    let skus = obj
        .get("goods_data")
        .map_or_else(|| bad("goods_data 不能为空"), Ok)?;
    let skus = array("goods_data", skus)?;
    if skus.is_empty() {
        return bad("goods_data 不能为空");
    }
    for (i, s) in skus.iter().enumerate() {
        let at = format!("goods_data[{i}]");
        if !s.is_object() {
            return bad(format!("{at} 应为对象"));
        }
        let price_ok = match s.get("price") {
            Some(Value::Number(n)) => n.as_f64().is_some_and(|p| p >= 0.0),
            Some(Value::String(p)) => p.trim().parse::<f64>().is_ok_and(|p| p >= 0.0),
            _ => false,
        };
        if !price_ok {
            return bad(format!("{at}.price 应为非负数"));
        }
        for k in ["inventory_num", "person_limit_num"] {
            match s.get(k) {
                None => {}
                Some(n) if n.as_u64().is_some() => {}
                Some(_) => return bad(format!("{at}.{k} 应为非负整数")),
            }
        }
        if let Some(t) = s.get("introduce") {
            text(&format!("{at}.introduce"), t)?;
        }
    }
    if let Some(c) = obj.get("cover_data") {
        typed_blocks("cover_data", c, &["picture_url"], &mut images)?;
    }
    Ok(Checked {
        text: raw.to_owned(),
        images,
    })
}

/// Website or template content: `[{"type": "guntu"|"content", "data": [{"picture_url": …}]}]`.
/// Other string members of a data element (captions, links) are kept.
pub fn website(field: &str, raw: &str) -> R<Checked> {
    let v = parse(field, raw)?;
    let mut images = vec![];
    for (i, block) in array(field, &v)?.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let t = type_of(&at, block)?;
        if t != "guntu" && t != "content" {
            return bad(format!("{at}.type 只能是 guntu | content"));
        }
        let data = block
            .get("data")
            .map_or_else(|| bad(format!("{at}.data 不能为空")), Ok)?;
        for (j, d) in array(&format!("{at}.data"), data)?.iter().enumerate() {
            let at = format!("{at}.data[{j}]");
            let Some(obj) = d.as_object() else {
                return bad(format!("{at} 应为对象"));
            };
            for (k, val) in obj {
                if k == "picture_url" {
                    image(&format!("{at}.picture_url"), val, &mut images)?;
                } else {
                    text(&format!("{at}.{k}"), val)?;
                }
            }
        }
    }
    Ok(Checked {
        text: raw.to_owned(),
        images,
    })
}

/// Feedback content: `[{"type":"phone","data":"…"},{"type":"picture_url","data":[…]},
/// {"type":"content","data":"…"}]`, at least one element.
pub fn feedback(raw: &str) -> R<Checked> {
    let v = parse("content", raw)?;
    let items = array("content", &v)?;
    if items.is_empty() {
        return bad("content 不能为空");
    }
    let mut images = vec![];
    for (i, item) in items.iter().enumerate() {
        let at = format!("content[{i}]");
        let t = type_of(&at, item)?;
        let data = item
            .get("data")
            .map_or_else(|| bad(format!("{at}.data 不能为空")), Ok)?;
        match t {
            "phone" => {
                let p = text(&format!("{at}.data"), data)?;
                if !phone_like(p) {
                    return bad(format!("{at}.data 不是有效的电话号码"));
                }
            }
            "content" => {
                text(&format!("{at}.data"), data)?;
            }
            "picture_url" => {
                for (j, d) in array(&format!("{at}.data"), data)?.iter().enumerate() {
                    image(&format!("{at}.data[{j}]"), d, &mut images)?;
                }
            }
            _ => return bad(format!("{at}.type 只能是 phone | picture_url | content")),
        }
    }
    Ok(Checked {
        text: raw.to_owned(),
        images,
    })
}

/// A mainland mobile number: 11 digits starting 1[3-9] (ADM-59's phone check).
pub fn mobile(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b.first() == Some(&b'1')
        && b.get(1).is_some_and(|d| (b'3'..=b'9').contains(d))
}

/// A phone number as people write it: digits with optional `+`, spaces and dashes, 5–20 long.
pub fn phone_like(p: &str) -> bool {
    let digits = p.bytes().filter(u8::is_ascii_digit).count();
    (5..=20).contains(&p.len())
        && (5..=15).contains(&digits)
        && p.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || b == b'-' || b == b' ' || (b == b'+' && i == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths() {
        assert!(image_path(
            "statics/zhugeleida/imgs/qiyeweixin/product/20180801120000.jpg"
        ));
        assert!(image_path("statics/a/Website_scroll_1.PNG"));
        assert!(!image_path("statics/../etc/passwd.jpg"));
        assert!(!image_path("/statics/a.jpg"));
        assert!(!image_path("statics//a.jpg"));
        assert!(!image_path("statics/a.txt"));
        assert!(!image_path("statics/.hidden.png"));
        assert!(!image_path("http://evil/statics/a.png"));
        assert!(!image_path("statics/a b.png"));
    }

    #[test]
    fn product_content_is_checked_and_cover_extracted() {
        let raw = r#"{"cover_data":[{"type":"picture_url","data":["statics/a/1.png"]}],
            "article_data":[{"type":"title","data":["标题"]},{"type":"picture_url","data":["statics/a/2.jpg"]},{"type":"content","data":["内容"]}]}"#;
        let (c, cover) = product(raw).unwrap();
        assert_eq!(c.images, vec!["statics/a/1.png", "statics/a/2.jpg"]);
        assert_eq!(c.text, raw);
        let cv: Value = serde_json::from_str(&cover).unwrap();
        assert_eq!(cv[0]["data"][0], "statics/a/1.png");
        assert_eq!(product("{}").unwrap().1, "[]");
        assert!(product("[1]").is_err());
        assert!(product("not json").is_err());
        assert!(product(r#"{"cover_data":[{"type":"picture_url","data":["../x.png"]}]}"#).is_err());
        assert!(product(r#"{"article_data":[{"type":"video","data":["x"]}]}"#).is_err());
        assert!(product(r#"{"other":1}"#).is_err());
    }

    #[test]
    fn goods_website_feedback() {
        assert!(goods(r#"{"goods_data":[{"price":128,"introduce":"x","inventory_num":10,"person_limit_num":2}],"cover_data":[{"data":["statics/p/s1.png"],"type":"picture_url"}]}"#).is_ok());
        assert!(goods(r#"{"goods_data":[]}"#).is_err());
        assert!(goods(r#"{"goods_data":[{"price":-1}]}"#).is_err());
        assert!(goods(r#"{"goods_data":[{"price":"12","inventory_num":-3}]}"#).is_err());
        let w = website(
            "website_content",
            r#"[{"type":"guntu","data":[{"picture_url":"statics/w/1.png"}]},{"type":"content","data":[{"picture_url":"statics/w/2.png"}]}]"#,
        )
        .unwrap();
        assert_eq!(w.images.len(), 2);
        assert!(website("website_content", r#"{"type":"guntu"}"#).is_err());
        assert!(website(
            "website_content",
            r#"[{"type":"guntu","data":[{"picture_url":"x.png"}]}]"#
        )
        .is_err());
        assert!(feedback(r#"[{"type":"phone","data":"13020006631"},{"type":"picture_url","data":["statics/f/1.png"]},{"type":"content","data":"慢"}]"#).is_ok());
        assert!(feedback("[]").is_err());
        assert!(feedback(r#"[{"type":"phone","data":"abc"}]"#).is_err());
    }

    #[test]
    fn phones() {
        assert!(mobile("13020006631"));
        assert!(!mobile("12020006631"));
        assert!(!mobile("1302000663"));
        assert!(!mobile("1302000663x"));
        assert!(phone_like("+86 130-2000-6631"));
        assert!(!phone_like("12"));
    }
}
