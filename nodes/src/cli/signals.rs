//! Ctrl-C or SIGTERM. The handlers are installed when [`shutdown`] is called, not when its
//! future is first polled: a process calls it before it says it is ready, so a SIGTERM sent the
//! moment "ready" appears stops it gracefully instead of killing it with the default action.

use anyhow::Context;
use std::future::Future;
use tokio::signal::unix::{signal, SignalKind};

/// Resolves on the first SIGTERM or SIGINT from now on. Needs a running tokio runtime.
pub fn shutdown() -> anyhow::Result<impl Future<Output = ()>> {
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
