//! `practice x12 parse FILE`, `practice x12 validate FILE`, and `gen-837` (its own module,
//! `x12_gen`). JSON shapes are documented in `docs/x12-json.md`.
//!
//! Exit codes: 0 read (parse) / valid (validate); 1 not valid X12 (validate: one diagnostic
//! per line on stdout; parse: the fatal problem on stderr); 2 the file cannot be read.

use anyhow::Context;
use clap::Subcommand;
use practice_protocol::x12::{self, ParseOutput, X12Error};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum X12Command {
    /// Read an X12 file (835, 277, 277CA, 999; others are counted) and print it as JSON.
    Parse {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
    },
    /// Check an X12 file: envelopes, counts, control numbers, segments, 835 balance.
    Validate {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
    },
    /// Write an 837P or 837I from claims in the API's JSON form (docs/x12-gen.md).
    #[command(name = "gen-837")]
    Gen837(super::x12_gen::Gen837Args),
}

pub fn run(command: X12Command) -> anyhow::Result<ExitCode> {
    match command {
        X12Command::Parse { file } => parse(&file),
        X12Command::Validate { file } => validate(&file),
        X12Command::Gen837(args) => super::x12_gen::run(&args),
    }
}

fn open(file: &Path) -> anyhow::Result<Box<dyn Read>> {
    if file == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let handle = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(Box::new(BufReader::with_capacity(256 * 1024, handle)))
}

/// Splits a fatal reader error into "cannot read" (exit 2) and "not valid X12" (exit 1).
fn is_unreadable(error: &X12Error) -> bool {
    matches!(error, X12Error::Io(_))
}

fn parse(file: &Path) -> anyhow::Result<ExitCode> {
    let source = match open(file) {
        Ok(source) => source,
        Err(error) => return unreadable(error),
    };
    match x12::read_document(source) {
        Ok((document, diagnostics)) => {
            let output = ParseOutput { transactions: &document.transactions, diagnostics: &diagnostics };
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(output.to_json_pretty().as_bytes())?;
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) if is_unreadable(&error) => unreadable(anyhow::Error::new(error)),
        Err(error) => {
            eprintln!("{}: {error}", file.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn validate(file: &Path) -> anyhow::Result<ExitCode> {
    let source = match open(file) {
        Ok(source) => source,
        Err(error) => return unreadable(error),
    };
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match x12::validate(source) {
        Ok(diagnostics) => {
            for diagnostic in &diagnostics {
                writeln!(stdout, "{}: {diagnostic}", file.display())?;
            }
            stdout.flush()?;
            let valid = diagnostics.iter().all(|diagnostic| !diagnostic.is_error());
            Ok(if valid { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Err(error) if is_unreadable(&error) => unreadable(anyhow::Error::new(error)),
        Err(error) => {
            writeln!(stdout, "{}: fatal: {error}", file.display())?;
            stdout.flush()?;
            Ok(ExitCode::from(1))
        }
    }
}

fn unreadable(error: anyhow::Error) -> anyhow::Result<ExitCode> {
    eprintln!("practice: {error:#}");
    Ok(ExitCode::from(2))
}
