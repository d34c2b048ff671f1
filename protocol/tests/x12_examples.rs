//! The example inputs shipped for `practice x12 gen-837` (docs/examples/claims-837*.json) stay
//! valid: they deserialize as `Vec<Claim>` and write as 837s. `UPDATE_EXAMPLES=1` regenerates
//! them from the test fixtures.

mod support;

use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::write::write_837;
use std::path::PathBuf;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/examples").join(name)
}

fn check(name: &str, claim_type: ClaimType, fixtures: Vec<Claim>) {
    let path = example(name);
    if std::env::var_os("UPDATE_EXAMPLES").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&fixtures).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let claims: Vec<Claim> = serde_json::from_str(&text).unwrap();
    assert_eq!(claims, fixtures, "{name} drifted from the fixtures; rerun with UPDATE_EXAMPLES=1");
    let bytes = write_837(&support::submission(1), claim_type, &claims).unwrap();
    assert!(bytes.starts_with(b"ISA*"));
}

#[test]
fn professional_example_is_valid() {
    check(
        "claims-837p.json",
        ClaimType::Professional,
        vec![
            support::professional_primary("ex1"),
            support::professional_dependent("ex2"),
            support::professional_secondary("ex3"),
        ],
    );
}

#[test]
fn institutional_example_is_valid() {
    check(
        "claims-837i.json",
        ClaimType::Institutional,
        vec![support::institutional_primary("ex4"), support::institutional_secondary("ex5")],
    );
}
