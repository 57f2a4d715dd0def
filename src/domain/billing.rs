//! Company billing periods (ADM-46/47, A-36).

use chrono::{Months, NaiveDate};

/// `open_length_time` 1..=5 → months (1, 2, 3, 12, 24).
pub fn plan_months(open_length_time: i16) -> Option<u32> {
    match open_length_time {
        1 => Some(1),
        2 => Some(2),
        3 => Some(3),
        4 => Some(12),
        5 => Some(24),
        _ => None,
    }
}

/// The expiry stored on create/update: start + plan length (never recomputed on read).
pub fn expiry(start: NaiveDate, open_length_time: i16) -> Option<NaiveDate> {
    start.checked_add_months(Months::new(plan_months(open_length_time)?))
}

/// `(used_days, available_days)` as of `today`; both floor at 0.
pub fn days(start: Option<NaiveDate>, expired: Option<NaiveDate>, today: NaiveDate) -> (i64, i64) {
    let used = start.map(|s| (today - s).num_days().max(0)).unwrap_or(0);
    let avail = expired.map(|e| (e - today).num_days().max(0)).unwrap_or(0);
    (used, avail)
}

/// A company whose expiry date has passed may no longer log in.
pub fn is_expired(expired: Option<NaiveDate>, today: NaiveDate) -> bool {
    expired.is_some_and(|e| e < today)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }
    #[test]
    fn plans_and_days() {
        assert_eq!(expiry(d(2018, 8, 13), 3), Some(d(2018, 11, 13)));
        assert_eq!(expiry(d(2018, 1, 31), 1), Some(d(2018, 2, 28)));
        assert_eq!(expiry(d(2018, 6, 20), 4), Some(d(2019, 6, 20)));
        assert_eq!(expiry(d(2018, 6, 20), 6), None);
        assert_eq!(
            days(Some(d(2018, 6, 20)), Some(d(2019, 6, 20)), d(2018, 7, 12)),
            (22, 343)
        );
        assert!(is_expired(Some(d(2018, 1, 1)), d(2018, 1, 2)));
        assert!(!is_expired(Some(d(2018, 1, 2)), d(2018, 1, 2)));
        assert!(!is_expired(None, d(2018, 1, 2)));
    }
}
