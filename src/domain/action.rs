//! Radar action types (API.md 1.10) and the log text each one writes.

/// Every action code, 1..=12, with its name (verbatim, as QYW-39's `action` map).
pub const NAMES: [(i16, &str); 12] = [
    (1, "查看名片"),
    (2, "查看产品"),
    (3, "查看动态"),
    (4, "查看官网"),
    (5, "复制微信"),
    (6, "转发名片"),
    (7, "咨询产品"),
    (8, "保存电话"),
    (9, "觉得靠谱"),
    (10, "拨打电话"),
    (11, "播放语音"),
    (12, "复制邮箱"),
];

pub const VIEW_CARD: i16 = 1;
pub const FORWARD: i16 = 6;
pub const PRAISE: i16 = 9;
pub const CALL: i16 = 10;

/// The name of an action code, `None` outside 1..=12.
pub fn name(action: i16) -> Option<&'static str> {
    NAMES.iter().find(|(c, _)| *c == action).map(|(_, n)| *n)
}

pub fn is_valid(action: i16) -> bool {
    name(action).is_some()
}

/// The log line shown to the salesperson. `praise_on` is only read for action 9 (false =
/// the customer withdrew the praise). Texts follow the examples in the seeds; the ones the
/// seeds do not show are written in the same voice.
pub fn log_text(customer: &str, action: i16, praise_on: bool) -> String {
    let what = match action {
        1 => "查看你的名片",
        2 => "查看您的产品",
        3 => "查看了公司的动态",
        4 => "查看了您的官网",
        5 => "复制了您的微信",
        6 => "转发了你的名片,你的人脉圈正在裂变",
        7 => "咨询了您的产品",
        8 => "保存了您的电话",
        9 if praise_on => "觉得靠谱",
        9 => "取消对你的靠谱评价",
        10 => "拨打您的手机",
        11 => "播放了您的语音",
        12 => "复制了您的邮箱",
        _ => "访问了您的名片",
    };
    format!("{customer}{what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_log_texts() {
        assert_eq!(
            log_text("张聪[客户1]", 6, true),
            "张聪[客户1]转发了你的名片,你的人脉圈正在裂变"
        );
        assert_eq!(log_text("张聪", 9, true), "张聪觉得靠谱");
        assert_eq!(
            log_text("张炬[客户2]", 9, false),
            "张炬[客户2]取消对你的靠谱评价"
        );
        assert_eq!(log_text("张聪[客户1]", 10, true), "张聪[客户1]拨打您的手机");
        assert_eq!(log_text("张炬[客户2]", 1, true), "张炬[客户2]查看你的名片");
        assert_eq!(name(12), Some("复制邮箱"));
        assert!(!is_valid(0) && !is_valid(13));
    }
}
