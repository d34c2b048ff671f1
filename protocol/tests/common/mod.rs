//! Locating the shared X12 sample corpus for tests: `$PRACTICE_SAMPLES/x12`, else
//! `<workspace root>/../shared/samples/x12`. Missing corpus: skip with a note, except under
//! `CI`, where it is a failure.

use std::path::{Path, PathBuf};

/// Every sample file under the corpus (all folders, licences excluded), sorted, or `None`
/// when the corpus is absent outside CI.
pub fn corpus_files() -> Option<Vec<PathBuf>> {
    let root = match std::env::var_os("PRACTICE_SAMPLES") {
        Some(dir) => PathBuf::from(dir).join("x12"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/x12"),
    };
    if !root.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "X12 corpus missing at {} under CI", root.display());
        eprintln!("note: X12 corpus not found at {}; skipping corpus test", root.display());
        return None;
    }
    let mut files = Vec::new();
    for folder in std::fs::read_dir(&root).expect("corpus folder readable") {
        let folder = folder.expect("corpus entry").path();
        if !folder.is_dir() || folder.ends_with("LICENSES") {
            continue;
        }
        for file in std::fs::read_dir(&folder).expect("corpus subfolder readable") {
            let file = file.expect("corpus file").path();
            if file.is_file() {
                files.push(file);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "X12 corpus at {} holds no files", root.display());
    Some(files)
}

/// `835/lfh__managed-care.835` style name of a corpus file.
pub fn short_name(path: &Path) -> String {
    let folder = path.parent().and_then(Path::file_name).map(|name| name.to_string_lossy()).unwrap_or_default();
    let file = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    format!("{folder}/{file}")
}
