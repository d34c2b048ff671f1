//! What Linux says of a thread, for tests of where work runs.

use std::path::Path;

/// The niceness of the thread at `task` (`/proc/thread-self`, `/proc/<pid>/task/<id>`): field
/// 19 of its `stat`.
pub fn niceness(task: &Path) -> i32 {
    let stat = std::fs::read_to_string(task.join("stat")).expect("thread stat");
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after_name = &stat[stat.rfind(')').expect("stat names the command") + 2..];
    after_name.split(' ').nth(16).and_then(|field| field.parse().ok()).expect("niceness field")
}

/// The calling thread's niceness.
pub fn own_niceness() -> i32 {
    niceness(Path::new("/proc/thread-self"))
}
