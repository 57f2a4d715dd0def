//! Tracing setup: JSON lines when stdout is not a terminal (files, journald, containers), text
//! with colours on a terminal; `ZGLD_LOG_FORMAT=json|text` overrides. Filter from `ZGLD_LOG` /
//! `RUST_LOG`. Every line logged while serving a request carries that request's span
//! (`request_id`, method, path; `user_id`/`company_id` once known).

use std::io::IsTerminal;

use tracing_subscriber::{fmt, fmt::MakeWriter, EnvFilter};

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, with the current span and the span list.
    Json,
    /// Human-readable text; colours only when `ansi`.
    Text { ansi: bool },
}

impl Format {
    /// `ZGLD_LOG_FORMAT` (`json` / `text`) if set, else JSON unless stdout is a terminal.
    pub fn from_env() -> Self {
        let tty = std::io::stdout().is_terminal();
        Self::choose(std::env::var("ZGLD_LOG_FORMAT").ok().as_deref(), tty)
    }

    /// The rule behind [`Format::from_env`].
    pub fn choose(setting: Option<&str>, stdout_is_terminal: bool) -> Self {
        match setting.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("json") => Format::Json,
            Some("text") => Format::Text {
                ansi: stdout_is_terminal,
            },
            _ if stdout_is_terminal => Format::Text { ansi: true },
            _ => Format::Json,
        }
    }
}

fn filter() -> EnvFilter {
    let filter = std::env::var("ZGLD_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info,tower_http=info".into());
    EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A subscriber writing `format` to `writer` (tests capture lines with it).
pub fn subscriber<W>(format: Format, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    match format {
        Format::Json => Box::new(
            fmt()
                .with_env_filter(filter())
                .with_writer(writer)
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
        Format::Text { ansi } => Box::new(
            fmt()
                .with_env_filter(filter())
                .with_writer(writer)
                .with_ansi(ansi)
                .finish(),
        ),
    }
}

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init() {
    use tracing_subscriber::util::SubscriberInitExt as _;
    // try_init also forwards the `log` records of dependencies.
    let _ = subscriber(Format::from_env(), std::io::stdout).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_off_a_terminal_text_on_it_and_the_setting_wins() {
        assert_eq!(Format::choose(None, false), Format::Json);
        assert_eq!(Format::choose(None, true), Format::Text { ansi: true });
        assert_eq!(Format::choose(Some("json"), true), Format::Json);
        assert_eq!(
            Format::choose(Some("text"), false),
            Format::Text { ansi: false },
            "text into a file has no colour codes"
        );
        assert_eq!(
            Format::choose(Some("TEXT"), true),
            Format::Text { ansi: true }
        );
    }
}
