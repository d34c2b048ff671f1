//! pyx12, the independent X12 validator, run through `scripts/pyx12_validate.py`. Missing
//! pyx12 is a skip with a note, except under `CI`, where it is a failure.

use crate::nats::workspace_root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The python that has pyx12, or `None` when it is missing outside CI.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("PRACTICE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/venv/bin/python"));
    let usable = Command::new(&python)
        .args(["-c", "import pyx12"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if usable {
        return Some(python);
    }
    let message = format!("pyx12 is not available from {} (run scripts/test-deps.sh)", python.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipping pyx12 validation: {message}");
    None
}

/// `Ok(())` when pyx12 accepts every file (or is absent outside CI); the report otherwise.
pub fn validate(files: &[&Path]) -> Result<(), String> {
    let Some(python) = python() else { return Ok(()) };
    let output = Command::new(&python)
        .arg(workspace_root().join("scripts/pyx12_validate.py"))
        .args(files)
        .output()
        .map_err(|error| format!("cannot run pyx12: {error}"))?;
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    let ok = report.lines().filter(|line| line.ends_with(": OK")).count();
    if output.status.success() && ok == files.len() {
        Ok(())
    } else {
        Err(format!("{report}\n{}", String::from_utf8_lossy(&output.stderr)))
    }
}
