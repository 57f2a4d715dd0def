//! The AI close rate (`ai_pr`, 0–100): a decayed engagement score per salesperson ↔ customer
//! relation (docs/ai-close-rate.md).
//!
//! Every signal adds a fixed weight to the relation's *energy*; energy halves every
//! [`HALF_LIFE_DAYS`] without activity; the rate is `99 · (1 − e^(−energy / SCALE))`.
//! So more engagement never lowers the rate (weights are ≥ 0 and the map is increasing),
//! and time without activity always lowers it (decay), never below 0 and never to 100.

/// A behaviour that feeds the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A radar action (1..=12), as recorded in the action log.
    Action(i16),
    /// A praise withdrawn (action 9 off): adds nothing, takes nothing away.
    PraiseWithdrawn,
    /// The customer wrote to the salesperson.
    CustomerMessage,
    /// The salesperson recorded a follow-up.
    FollowUp,
    /// The customer opened an article the salesperson shared, for the first time.
    ArticleRead,
    /// ... and again.
    ArticleReread,
    /// The customer forwarded it (to a friend or Moments).
    ArticleForward,
    /// The customer read it to the end (first time).
    ArticleFinished,
}

pub const HALF_LIFE_DAYS: f64 = 7.0;
pub const HALF_LIFE_SECS: f64 = HALF_LIFE_DAYS * 86_400.0;
pub const SCALE: f64 = 40.0;

/// The weight of one signal: stronger buying intent weighs more.
pub fn weight(s: Signal) -> f64 {
    match s {
        Signal::Action(a) => match a {
            1 => 2.0,   // viewed the card
            2 => 3.0,   // viewed a product
            3 => 1.0,   // viewed company news
            4 => 2.0,   // viewed the website
            5 => 6.0,   // copied the WeChat id
            6 => 5.0,   // forwarded the card
            7 => 8.0,   // consulted about a product
            8 => 8.0,   // saved the phone number
            9 => 4.0,   // finds the salesperson reliable
            10 => 10.0, // phoned
            11 => 2.0,  // played the voice intro
            12 => 5.0,  // copied the e-mail
            _ => 0.0,
        },
        Signal::PraiseWithdrawn => 0.0,
        Signal::CustomerMessage => 3.0,
        Signal::FollowUp => 1.0,
        Signal::ArticleRead => 2.0,
        Signal::ArticleReread => 1.0,
        Signal::ArticleForward => 5.0,
        Signal::ArticleFinished => 3.0,
    }
}

/// Energy left after `elapsed_secs` of silence.
pub fn decay(energy: f64, elapsed_secs: f64) -> f64 {
    if !energy.is_finite() || energy <= 0.0 {
        return 0.0;
    }
    energy * 0.5f64.powf(elapsed_secs.max(0.0) / HALF_LIFE_SECS)
}

/// The close rate for an energy, 0..=99.
pub fn rate(energy: f64) -> i16 {
    if !energy.is_finite() || energy <= 0.0 {
        return 0;
    }
    (99.0 * (1.0 - (-energy / SCALE).exp()))
        .round()
        .clamp(0.0, 99.0) as i16
}

/// The rate now, from the stored energy and the time it was stored.
pub fn rate_at(energy: f64, stored_at: Option<chrono::DateTime<chrono::Utc>>) -> i16 {
    let elapsed = stored_at
        .map(|t| (chrono::Utc::now() - t).num_milliseconds() as f64 / 1000.0)
        .unwrap_or(0.0);
    rate(decay(energy, elapsed))
}

/// One reason behind a rate, for the client to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// `action_<code>` or `silence`.
    pub key: String,
    pub text: String,
    /// Energy it contributes now (negative: energy lost to silence).
    pub score: f64,
}

/// The top contributing factors: the three actions with the most decayed weight in the
/// window (`per_action`: action, count in the last 7 days, count in the window, decayed
/// weight), then silence when the customer has been inactive for a week or more.
pub fn explain(per_action: &[(i16, i64, i64, f64)], silent_days: Option<i64>) -> Vec<Factor> {
    let mut top: Vec<&(i16, i64, i64, f64)> = per_action.iter().filter(|f| f.3 > 0.0).collect();
    top.sort_by(|a, b| b.3.total_cmp(&a.3));
    let mut out: Vec<Factor> = top
        .into_iter()
        .take(3)
        .map(|&(a, week, window, score)| {
            let name = crate::domain::action::name(a).unwrap_or("互动");
            let text = if week > 0 {
                format!("本周{name}{week}次")
            } else {
                format!("近30天{name}{window}次")
            };
            Factor {
                key: format!("action_{a}"),
                text,
                score: (score * 10.0).round() / 10.0,
            }
        })
        .collect();
    if let Some(d) = silent_days.filter(|d| *d >= 7) {
        let lost = 1.0 - 0.5f64.powf(d as f64 / HALF_LIFE_DAYS);
        out.push(Factor {
            key: "silence".into(),
            text: format!("已{d}天没有互动"),
            score: -((lost * 1000.0).round() / 10.0),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_engagement_never_lowers_the_rate() {
        let mut e = 0.0;
        let mut last = rate(e);
        for a in (1..=12).cycle().take(200) {
            e += weight(Signal::Action(a));
            let r = rate(e);
            assert!(r >= last, "rate fell from {last} to {r}");
            last = r;
        }
        assert!(last <= 99);
        assert!(rate(weight(Signal::Action(10))) > 0);
        assert_eq!(rate(e + weight(Signal::PraiseWithdrawn)), rate(e));
    }

    #[test]
    fn time_without_activity_lowers_the_rate() {
        let e = 60.0;
        let r0 = rate(e);
        let r7 = rate(decay(e, HALF_LIFE_SECS));
        let r14 = rate(decay(e, 2.0 * HALF_LIFE_SECS));
        let r90 = rate(decay(e, 90.0 * 86_400.0));
        assert!(r0 > r7 && r7 > r14 && r14 > r90, "{r0} {r7} {r14} {r90}");
        assert!((decay(e, HALF_LIFE_SECS) - 30.0).abs() < 1e-9);
        assert_eq!(rate(0.0), 0);
        assert_eq!(rate(f64::NAN), 0);
        assert_eq!(decay(-1.0, 10.0), 0.0);
    }

    #[test]
    fn factors_rank_actions_and_report_silence() {
        let f = explain(
            &[
                (1, 3, 5, 6.0),
                (6, 2, 2, 9.5),
                (10, 0, 1, 4.0),
                (2, 1, 1, 1.0),
            ],
            Some(14),
        );
        let keys: Vec<&str> = f.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["action_6", "action_1", "action_10", "silence"]);
        assert_eq!(f[0].text, "本周转发名片2次");
        assert_eq!(f[2].text, "近30天拨打电话1次");
        assert_eq!(f[3].text, "已14天没有互动");
        assert!(f[3].score < 0.0);
        assert!(explain(&[], Some(3)).is_empty());
    }
}
