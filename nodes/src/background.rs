//! A runtime for a node's work that can wait while commands are answered: the module
//! consumers. Its one thread runs at a lower OS priority (nice [`NICENESS`]), so when the cores
//! are contended the command path and the server beside it go first, and the consumers take
//! what is left, keeping a share under full load (CFS gives a nice-10 thread about a tenth of
//! a core against one at nice 0). Measured in `bench jetstream` (docs/benchmarks.md, stop 28):
//! the consumers' once-a-second passes were what remained of the half-load tail once the
//! server's collector was held off.

use thread_priority::{ThreadPriority, ThreadPriorityValue};

/// The consumers' thread's niceness (0 is the default, 19 the lowest priority).
pub const NICENESS: i32 = 10;
/// The crate's portable scale (0–99) maps 22 to niceness 10 for Linux's normal policy.
const PORTABLE_PRIORITY: u8 = 22;

pub struct Background {
    /// Taken on drop.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl Background {
    pub fn start(name: &str) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(Self { runtime: Some(runtime), handle })
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async caller may not do: stop it without waiting.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lower_priority() {
    let lowered =
        ThreadPriorityValue::try_from(PORTABLE_PRIORITY).map_err(|error| format!("{error:?}")).and_then(|value| {
            thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
                .map_err(|error| format!("{error:?}"))
        });
    if let Err(error) = lowered {
        // Not fatal: the work still runs, only without yielding to the commands.
        tracing::warn!(%error, "background thread keeps the default priority");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use practice_tests::threads::own_niceness as niceness;

    #[test]
    fn work_on_the_background_runtime_runs_at_the_lower_priority_and_the_caller_does_not() {
        let caller = niceness();
        let background = Background::start("practice-test-bg").unwrap();
        let inside = std::sync::mpsc::channel();
        let sender = inside.0.clone();
        background.handle().spawn(async move { sender.send(niceness()).unwrap() });
        let niceness_inside = inside.1.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        // Absolute, not relative; a caller already nicer than that keeps its own (raising a
        // thread's priority takes privileges).
        assert_eq!(niceness_inside, caller.max(NICENESS));
        assert_eq!(niceness(), caller);
    }
}
