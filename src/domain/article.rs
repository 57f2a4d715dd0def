//! Article rules: status names, the expected reading time of a content blob, reading-time
//! buckets, the packed `relate` parameter of share links (A-84), and the JSSDK signature (A-86).

use serde_json::Value;
use sha1::{Digest, Sha1};

/// `status` 1 已发 (published), 2 未发 (not published yet).
pub fn status_name(status: i16) -> &'static str {
    if status == 1 {
        "已发"
    } else {
        "未发"
    }
}

/// `source` 1 原创; other values are undocumented.
pub fn source_name(source: i16) -> &'static str {
    if source == 1 {
        "原创"
    } else {
        "转载"
    }
}

/// Characters a reader reads per second (about 480 Chinese characters a minute).
const CHARS_PER_SEC: usize = 8;
/// Seconds given to each picture.
const SECS_PER_PICTURE: usize = 3;
/// Nobody reads an article "to the end" in less.
const MIN_READ_SECS: i32 = 10;

/// Seconds a reader needs to reach the end of `content` (the 1.11 JSON blob, or plain text).
pub fn read_secs(title: &str, content: &str) -> i32 {
    let (mut chars, mut pictures) = (title.chars().count(), 0usize);
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(obj)) => {
            for part in obj.values().filter_map(Value::as_array).flatten() {
                let data = part.get("data").and_then(Value::as_array);
                match part.get("type").and_then(Value::as_str) {
                    Some("picture_url") => pictures += data.map_or(0, Vec::len),
                    _ => {
                        for d in data.into_iter().flatten() {
                            chars += d.as_str().map_or(0, |s| s.chars().count());
                        }
                    }
                }
            }
        }
        _ => chars += content.chars().count(),
    }
    let secs = chars / CHARS_PER_SEC + pictures * SECS_PER_PICTURE;
    i32::try_from(secs).unwrap_or(i32::MAX).max(MIN_READ_SECS)
}

/// Upper bounds (exclusive, seconds) of the reading-time buckets; the last bucket is open.
pub const STAY_BUCKETS: [(i32, &str); 6] = [
    (10, "0-10s"),
    (30, "10-30s"),
    (60, "30-60s"),
    (120, "1-2min"),
    (300, "2-5min"),
    (i32::MAX, "5min+"),
];

/// The bucket index of a reading time.
pub fn stay_bucket(secs: i32) -> i16 {
    STAY_BUCKETS
        .iter()
        .position(|(upper, _)| secs < *upper)
        .unwrap_or(STAY_BUCKETS.len() - 1) as i16
}

/// The longest reading time accepted from a page (a day): anything longer is a tab left open.
pub const MAX_STAY_SECS: i32 = 86_400;

/// The parts of a share link's packed `relate` (A-84).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relate {
    pub article_id: Option<i64>,
    pub pid: Option<i64>,
    pub level: Option<i64>,
    pub uid: Option<i64>,
    pub company_id: Option<i64>,
}

impl Relate {
    /// `article_id_1|pid_1|level_2|uid_1|company_id_1`: split on `|`, then on the last `_`.
    /// Unknown keys are ignored; an empty value (`pid_`) is absent; a non-number is an error.
    pub fn parse(s: &str) -> Option<Relate> {
        let mut r = Relate::default();
        for part in s.split('|').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.rsplit_once('_')?;
            let value = if value.is_empty() {
                None
            } else {
                Some(value.parse::<i64>().ok()?)
            };
            match key {
                "article_id" => r.article_id = value,
                "pid" => r.pid = value,
                "level" => r.level = value,
                "uid" => r.uid = value,
                "company_id" => r.company_id = value,
                _ => {}
            }
        }
        Some(r)
    }

    /// The packed form.
    pub fn pack(&self) -> String {
        let v = |x: Option<i64>| x.map(|n| n.to_string()).unwrap_or_default();
        format!(
            "article_id_{}|pid_{}|level_{}|uid_{}|company_id_{}",
            v(self.article_id),
            v(self.pid),
            v(self.level),
            v(self.uid),
            v(self.company_id)
        )
    }
}

/// JSSDK signature (WECHAT.md A.3): sha1 of `jsapi_ticket=…&noncestr=…&timestamp=…&url=…`
/// with raw values; `url` without its `#fragment`.
pub fn jssdk_signature(ticket: &str, noncestr: &str, timestamp: i64, url: &str) -> String {
    let url = url.split('#').next().unwrap_or_default();
    let string1 =
        format!("jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}");
    hex::encode(Sha1::digest(string1.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_jssdk_example_vector() {
        assert_eq!(
            jssdk_signature(
                "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                "Wm3WZYTPz0wzccnW",
                1414587457,
                "http://mp.weixin.qq.com?params=value"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
        // The fragment never takes part.
        assert_eq!(
            jssdk_signature(
                "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                "Wm3WZYTPz0wzccnW",
                1414587457,
                "http://mp.weixin.qq.com?params=value#top"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
    }

    #[test]
    fn relate_round_trips_and_tolerates_empty_values() {
        let r = Relate::parse("article_id_1|pid_|level_2|uid_1|company_id_1").unwrap();
        assert_eq!(
            r,
            Relate {
                article_id: Some(1),
                pid: None,
                level: Some(2),
                uid: Some(1),
                company_id: Some(1)
            }
        );
        assert_eq!(Relate::parse(&r.pack()), Some(r));
        assert_eq!(Relate::parse("article_id_x"), None);
        assert_eq!(Relate::parse("nounderscore"), None);
    }

    #[test]
    fn reading_time_counts_text_and_pictures() {
        let content = r#"{"cover_data":[{"type":"picture_url","data":["a.png"]}],
            "article_data":[{"type":"title","data":["标题"]},{"type":"picture_url","data":["b.png","c.png"]},
            {"type":"content","data":["我是内容"]}]}"#;
        // 3 pictures × 3 s; 8 characters of text: the 10 s floor applies.
        assert_eq!(read_secs("", content), 10);
        let long = "字".repeat(800);
        assert_eq!(read_secs("", &long), 100);
        assert_eq!(stay_bucket(0), 0);
        assert_eq!(stay_bucket(95), 3);
        assert_eq!(stay_bucket(100_000), 5);
        assert_eq!(status_name(1), "已发");
        assert_eq!(status_name(2), "未发");
    }
}
