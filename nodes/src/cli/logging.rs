//! Log set-up: `RUST_LOG` filters, text or JSON lines on stderr. Logs never carry PHI: spans
//! name org, claim id and shard, never a patient's name, birth date or member id.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests calling main twice) is harmless: keep the first.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
