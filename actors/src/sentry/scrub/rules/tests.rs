//! Rules-file parsing tests: every rule type, precise errors, directories, the shipped examples.

use super::*;

fn rule_error(json: &str) -> (usize, String, String) {
    match PayerRules::from_json("payer.json", json) {
        Err(RulesError::Rule { index, field, message, .. }) => (index, field, message),
        other => panic!("expected a rule error, got {other:?}"),
    }
}

#[test]
fn parses_every_rule_type() {
    let rules = PayerRules::from_json(
        "p.json",
        r#"{"payer_id":"87726","payer_name":"Example","rules":[
            {"type":"required_modifier","codes":["20610"],"any_of":["LT","RT","50"]},
            {"type":"prior_auth_required","codes":["70553"],"severity":"warning","note":"see policy 12"},
            {"type":"max_units_per_day","code":"97110","max":4},
            {"type":"not_billable_together","column1":"99213","column2":"36415","bypass_modifiers":["59"]},
            {"type":"diagnosis_required","codes":["G0439"],"diagnoses":["Z00.0","Z01"],"id":"AWV-DX"},
            {"type":"filing_limit_days","days":90}
        ]}"#,
    )
    .unwrap();
    assert_eq!(rules.rules.len(), 6);
    assert_eq!(rules.filing_limit_days(), Some(90));
    assert_eq!(rules.rules[1].severity, ScrubSeverity::Warning);
    assert_eq!(
        rules.rules[2].rule,
        Rule::MaxUnitsPerDay { code: ProcedureCode::parse("97110").unwrap(), max: Decimal::from(4) }
    );
    assert_eq!(
        rules.rules[4].rule,
        Rule::DiagnosisRequired {
            codes: vec![ProcedureCode::parse("G0439").unwrap()],
            diagnoses: vec!["Z000".into(), "Z01".into()]
        }
    );
    assert_eq!(rules.rules[4].id.as_deref(), Some("AWV-DX"));
}

#[test]
fn unknown_rule_type_names_index_and_field() {
    let (index, field, message) =
        rule_error(r#"{"payer_id":"1","rules":[{"type":"filing_limit_days","days":30},{"type":"telepathy"}]}"#);
    assert_eq!((index, field.as_str()), (1, "type"));
    assert!(message.contains("telepathy"), "{message}");
}

#[test]
fn field_errors_are_precise() {
    let cases = [
        (r#"{"type":"max_units_per_day","code":"97110"}"#, "max"),
        (r#"{"type":"max_units_per_day","code":"97110","max":0}"#, "max"),
        (r#"{"type":"max_units_per_day","code":"9711","max":1}"#, "code"),
        (r#"{"type":"required_modifier","codes":["20610"],"any_of":["LT","R"]}"#, "any_of[1]"),
        (r#"{"type":"required_modifier","codes":[],"any_of":["LT"]}"#, "codes"),
        (r#"{"type":"prior_auth_required","codes":"70553"}"#, "codes"),
        (r#"{"type":"prior_auth_required","codes":["70553"],"colour":"red"}"#, "colour"),
        (r#"{"type":"prior_auth_required","codes":["70553"],"severity":"fatal"}"#, "severity"),
        (r#"{"type":"diagnosis_required","codes":["G0439"],"diagnoses":["ZZ"]}"#, "diagnoses[0]"),
        (r#"{"type":"filing_limit_days","days":-5}"#, "days"),
        (r#"{"type":"filing_limit_days","days":1.5}"#, "days"),
        (r#"{"days":5}"#, "type"),
        (r#"7"#, "(rule)"),
    ];
    for (rule, expected_field) in cases {
        let json = format!(r#"{{"payer_id":"1","rules":[{rule}]}}"#);
        let (index, field, _) = rule_error(&json);
        assert_eq!((index, field.as_str()), (0, expected_field), "{rule}");
    }
}

#[test]
fn malformed_json_and_top_level_errors_name_the_file() {
    let error = PayerRules::from_json("bad.json", "{\"payer_id\": \"1\",\n \"rules\": [").unwrap_err();
    assert!(matches!(&error, RulesError::Json { line: 2, .. }), "{error}");
    assert!(error.to_string().starts_with("bad.json: "));
    for (json, field) in [
        (r#"{"rules":[]}"#, "payer_id"),
        (r#"{"payer_id":"1"}"#, "rules"),
        (r#"{"payer_id":"1","rules":{}}"#, "rules"),
        (r#"{"payer_id":"","rules":[]}"#, "payer_id"),
        (r#"{"payer_id":"1","rules":[],"extra":1}"#, "extra"),
        (r#"[]"#, "(top level)"),
    ] {
        match PayerRules::from_json("f.json", json) {
            Err(RulesError::File { field: found, file, .. }) => {
                assert_eq!((found.as_str(), file.as_str()), (field, "f.json"), "{json}")
            }
            other => panic!("{json}: {other:?}"),
        }
    }
}

#[test]
fn rule_book_loads_a_directory_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), r#"{"payer_id":"A1","rules":[]}"#).unwrap();
    std::fs::write(dir.path().join("b.json"), r#"{"payer_id":"B2","rules":[]}"#).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let book = RuleBook::load_dir(dir.path()).unwrap();
    assert_eq!(book.by_payer.len(), 2);
    assert!(book.for_payer(&PayerId::parse("B2").unwrap()).is_some());
    std::fs::write(dir.path().join("c.json"), r#"{"payer_id":"A1","rules":[]}"#).unwrap();
    assert!(matches!(RuleBook::load_dir(dir.path()), Err(RulesError::DuplicatePayer { .. })));
    let missing = PayerRules::load(&dir.path().join("nope.json")).unwrap_err();
    assert!(matches!(missing, RulesError::Io { .. }));
}

#[test]
fn the_shipped_example_files_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/payer-rules");
    let book = RuleBook::load_dir(&dir).unwrap();
    assert!(!book.by_payer.is_empty());
}

#[test]
fn arbitrary_text_never_panics() {
    use proptest::prelude::*;
    proptest!(|(text in ".{0,200}")| {
        let _ = PayerRules::from_json("fuzz.json", &text);
    });
    proptest!(|(rule in r#"\{"type":"(max_units_per_day|required_modifier|filing_limit_days)"(,"[a-z_]{1,8}":("[A-Z0-9]{0,6}"|[0-9.-]{1,5}|\["[A-Z0-9]{1,5}"\]))*\}"#)| {
        let json = format!(r#"{{"payer_id":"1","rules":[{rule}]}}"#);
        let _ = PayerRules::from_json("fuzz.json", &json);
    });
}
