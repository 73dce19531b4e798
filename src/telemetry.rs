//! Structured logging with `tracing`: readable lines by default, JSON by configuration.
//!
//! Log lines carry a readable message plus dotted fields; they never carry a secret or personal
//! data. `RUST_LOG` overrides the configured filter.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Calling it again is harmless.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_span_events(FmtSpan::NONE).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // A subscriber is already installed (tests, or a second call): keep it.
    drop(result);
}
