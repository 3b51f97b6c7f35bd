//! Logging set-up: `tracing` to stderr, human or JSON, filtered by `RUST_LOG` (default `info`).
//!
//! pingora's own debug and trace events print whole request and response headers (an upstream
//! `Authorization` with an ai-proxy API token included) and bodies: their crates are capped at `info`
//! whatever `RUST_LOG` says for them as a whole (a directive naming one of their modules still wins).

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// Crates whose debug/trace events would print credentials.
const CAPPED: &[&str] = &["pingora_proxy=info", "pingora_core=info", "pingora_http=info", "pingora_cache=info"];

/// The event filter: `RUST_LOG` (else `default`), with [`CAPPED`] applied on top.
pub fn filter(default: &str) -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    for directive in CAPPED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the process-wide subscriber (the one piece of global state, owned by `main`).
pub fn init(format: LogFormat) {
    let filter = filter("info");
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (e.g. in tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
