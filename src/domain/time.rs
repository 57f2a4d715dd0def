//! Wire time formats (API.md 1.8). All wire times are naive Asia/Shanghai local time;
//! China has had no DST since 1991, so a fixed +08:00 offset is exact.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};

fn shanghai() -> FixedOffset {
    // +08:00 is always in FixedOffset's range; the fallback is unreachable.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The wall-clock time in Shanghai.
pub fn local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&shanghai()).naive_local()
}

/// Today's date in Shanghai.
pub fn today() -> NaiveDate {
    local(Utc::now()).date()
}

/// Django's `DjangoJSONEncoder`: ISO 8601, milliseconds, no fraction when microseconds are 0.
/// Written digit by digit: every radar frame and page carries one, and chrono's `format`
/// parses its pattern on each call (7,000 instructions a view, callgrind).
pub fn iso(t: DateTime<Utc>) -> String {
    use chrono::Datelike;
    let l = local(t);
    let micros = l.nanosecond() / 1000;
    let millis = micros / 1000;
    let year = l.year();
    if !(0..=9999).contains(&year) || millis > 999 {
        return iso_by_format(l);
    }
    let mut b = [0u8; 23];
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (at..at + width).rev() {
            if let Some(d) = b.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, l.month(), 2);
    put(8, l.day(), 2);
    put(11, l.hour(), 2);
    put(14, l.minute(), 2);
    put(17, l.second(), 2);
    put(20, millis, 3);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        if let Some(d) = b.get_mut(i) {
            *d = c;
        }
    }
    let len = if micros == 0 { 19 } else { 23 };
    b.get(..len)
        .and_then(|s| std::str::from_utf8(s).ok())
        .map(str::to_owned)
        .unwrap_or_else(|| iso_by_format(l))
}

/// [`iso`] through chrono's formatter (years outside 0..=9999, leap seconds).
fn iso_by_format(l: NaiveDateTime) -> String {
    let micros = l.nanosecond() / 1000;
    if micros == 0 {
        l.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        format!("{}.{:03}", l.format("%Y-%m-%dT%H:%M:%S"), micros / 1000)
    }
}

/// `YYYY-MM-DD HH:MM:SS`.
pub fn ymd_hms(t: DateTime<Utc>) -> String {
    local(t).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `YYYY-MM-DD HH:MM` (ADM-55 `create_date`, ADM-79 `status_time`).
pub fn ymd_hm(t: DateTime<Utc>) -> String {
    local(t).format("%Y-%m-%d %H:%M").to_string()
}

/// `YYYY-MM-DD` of a timestamp.
pub fn ymd_of(t: DateTime<Utc>) -> String {
    local(t).format("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DD` of a date.
pub fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Start of a Shanghai calendar day, as UTC.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    naive
        .and_local_timezone(shanghai())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

/// Whole Shanghai days from `t` to `today` (0 = today; never negative).
fn days_ago(t: DateTime<Utc>, today: NaiveDate) -> i64 {
    (today - local(t).date()).num_days().max(0)
}

/// QYW-41 relative times: "今天", "昨天", "N天前", or "" when never.
pub fn relative_day(t: Option<DateTime<Utc>>, today: NaiveDate) -> String {
    match t.map(|t| days_ago(t, today)) {
        None => String::new(),
        Some(0) => "今天".into(),
        Some(1) => "昨天".into(),
        Some(n) => format!("{n}天前"),
    }
}

/// QYW-41 `follow_status`: "未跟进过", "今天跟进", "昨天已跟进", or the follow-up date.
pub fn follow_status(t: Option<DateTime<Utc>>, today: NaiveDate) -> String {
    match t {
        None => "未跟进过".into(),
        Some(t) => match days_ago(t, today) {
            0 => "今天跟进".into(),
            1 => "昨天已跟进".into(),
            _ => ymd_of(t),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn django_iso_truncates_to_millis_and_drops_zero_fraction() {
        let t = Utc.with_ymd_and_hms(2018, 6, 4, 2, 12, 8).unwrap()
            + chrono::Duration::microseconds(474_999);
        assert_eq!(iso(t), "2018-06-04T10:12:08.474");
        let t0 = Utc.with_ymd_and_hms(2018, 5, 31, 0, 18, 42).unwrap();
        assert_eq!(iso(t0), "2018-05-31T08:18:42");
        assert_eq!(ymd_hms(t0), "2018-05-31 08:18:42");
        assert_eq!(
            ymd_of(Utc.with_ymd_and_hms(2018, 5, 31, 17, 0, 0).unwrap()),
            "2018-06-01"
        );
    }

    #[test]
    fn iso_is_chronos_format_digit_by_digit() {
        let mut t = Utc.with_ymd_and_hms(1999, 12, 31, 15, 59, 59).unwrap();
        for step in 0..20_000i64 {
            // Seconds, minutes, days and years apart, with and without a fraction.
            let l = local(t);
            assert_eq!(iso(t), iso_by_format(l), "{t:?}");
            t += chrono::Duration::microseconds(step * 7_919_017 + (step % 3) * 500);
        }
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(15, 59, 59, 1_500))
            .unwrap()
            .and_utc();
        assert_eq!(iso(leap), iso_by_format(local(leap)));
        let zero_ms = Utc.with_ymd_and_hms(2018, 6, 4, 2, 12, 8).unwrap()
            + chrono::Duration::microseconds(500);
        assert_eq!(iso(zero_ms), "2018-06-04T10:12:08.000");
    }

    #[test]
    fn relative_days_and_follow_status() {
        let today = NaiveDate::from_ymd_opt(2018, 9, 20).unwrap();
        // 2018-09-19 23:30 in Shanghai is 15:30 UTC: yesterday, although less than a day ago.
        let yesterday = Utc.with_ymd_and_hms(2018, 9, 19, 15, 30, 0).unwrap();
        let today_early = Utc.with_ymd_and_hms(2018, 9, 19, 16, 30, 0).unwrap();
        let old = Utc.with_ymd_and_hms(2018, 9, 17, 4, 0, 0).unwrap();
        assert_eq!(relative_day(None, today), "");
        assert_eq!(relative_day(Some(today_early), today), "今天");
        assert_eq!(relative_day(Some(yesterday), today), "昨天");
        assert_eq!(relative_day(Some(old), today), "3天前");
        assert_eq!(follow_status(None, today), "未跟进过");
        assert_eq!(follow_status(Some(today_early), today), "今天跟进");
        assert_eq!(follow_status(Some(yesterday), today), "昨天已跟进");
        assert_eq!(follow_status(Some(old), today), "2018-09-17");
    }

    #[test]
    fn day_start_is_midnight_in_shanghai() {
        let d = NaiveDate::from_ymd_opt(2018, 6, 1).unwrap();
        assert_eq!(
            day_start(d),
            Utc.with_ymd_and_hms(2018, 5, 31, 16, 0, 0).unwrap()
        );
    }
}
