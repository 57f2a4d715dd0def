//! The tolerant input parsers of API.md 1.3, in one place: id lists (A-04), booleans,
//! unpadded dates and percentages.

use chrono::NaiveDate;

/// Parses one list field value: JSON text (`'[1,2]'`, `["2","3"]`), a bare comma list
/// (`1,2`), full-width commas (`[1，3, 4, 5 ]`), `''` and `'[]'` as empty.
/// Returns `None` when an element is not an integer.
pub fn id_list(raw: &str) -> Option<Vec<i64>> {
    let s = raw.replace('，', ",");
    let s = s.trim();
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    let mut out = Vec::new();
    for part in inner.split(',') {
        let p = part.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        if p.is_empty() {
            continue;
        }
        out.push(p.parse::<i64>().ok()?);
    }
    Some(out)
}

/// `true/false/True/False/1/0` (and `yes/no`, `on/off`).
pub fn boolean(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `YYYY-M-D` with or without zero padding (also accepts a trailing time part).
pub fn date(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim();
    let day_part = s.split([' ', 'T']).next().unwrap_or(s);
    let mut it = day_part.split(['-', '/']);
    let y = it.next()?.trim().parse().ok()?;
    let m = it.next()?.trim().parse().ok()?;
    let d = it.next()?.trim().parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(y, m, d)
}

/// `80`, `80%`, `80.0` → 80. Only 0..=100.
pub fn percent(raw: &str) -> Option<i16> {
    let s = raw.trim().trim_end_matches('%').trim();
    let v: f64 = s.parse().ok()?;
    if !(0.0..=100.0).contains(&v) {
        return None;
    }
    Some(v.round() as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_in_every_documented_shape() {
        assert_eq!(id_list("[1,2]"), Some(vec![1, 2]));
        assert_eq!(id_list(r#"["2","3","4"]"#), Some(vec![2, 3, 4]));
        assert_eq!(id_list("[1，3, 4, 5 ]"), Some(vec![1, 3, 4, 5]));
        assert_eq!(id_list("1,2"), Some(vec![1, 2]));
        assert_eq!(id_list("7"), Some(vec![7]));
        assert_eq!(id_list(""), Some(vec![]));
        assert_eq!(id_list("[]"), Some(vec![]));
        assert_eq!(id_list("[1,x]"), None);
    }

    #[test]
    fn booleans_dates_percents() {
        assert_eq!(boolean("True"), Some(true));
        assert_eq!(boolean("False"), Some(false));
        assert_eq!(boolean("0"), Some(false));
        assert_eq!(boolean("maybe"), None);
        assert_eq!(date("2018-06-5"), NaiveDate::from_ymd_opt(2018, 6, 5));
        assert_eq!(date("2018-6-14"), NaiveDate::from_ymd_opt(2018, 6, 14));
        assert_eq!(date("2018-02-30"), None);
        assert_eq!(date("junk"), None);
        assert_eq!(percent("80%"), Some(80));
        assert_eq!(percent("80"), Some(80));
        assert_eq!(percent("101"), None);
        assert_eq!(percent("-1%"), None);
    }
}

/// Whether text holds a NUL character, raw (`%00`) or as the JSON escape `\u0000` of a
/// JSON-in-text field (API.md 1.3). PostgreSQL text and jsonb cannot store it, so every
/// text input is refused with 303 before it reaches a query (issue 8 defect 8).
pub fn has_nul(s: &str) -> bool {
    s.contains('\0') || s.contains("\\u0000")
}

/// [`has_nul`] over every string and key of a JSON value.
pub fn json_has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(json_has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod nul_tests {
    use super::*;

    #[test]
    fn nul_is_found_raw_escaped_and_inside_json() {
        assert!(has_nul("a\0b"));
        assert!(has_nul(r#"{"msg":"a\u0000b"}"#));
        assert!(!has_nul("plain 文本"));
        let v: serde_json::Value = serde_json::from_str(r#"{"a":["x","y\u0000"]}"#).unwrap();
        assert!(json_has_nul(&v));
        assert!(!json_has_nul(&serde_json::json!({"a": [1, "b"]})));
    }
}
