//! Applying a payer's rules to a claim. Each finding names the line and field to fix and
//! says what the payer wants instead.

use super::finding;
use super::rules::{PayerRules, Rule, RuleEntry};
use chrono::NaiveDate;
use practice_protocol::claim::ScrubFinding;
use practice_protocol::domain::{Claim, ClaimLine};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The findings of every rule in `rules` against `claim`. Filing limits are applied by the
/// timely-filing check, not here.
pub fn apply_rules(claim: &Claim, rules: &PayerRules) -> Vec<ScrubFinding> {
    let payer = rules.payer_name.clone().unwrap_or_else(|| format!("payer {}", rules.payer_id));
    let mut out = Vec::new();
    for entry in &rules.rules {
        let mut emit = |field: String, message: String| {
            let code = entry.id.clone().unwrap_or_else(|| format!("PAYER-{}", entry.rule.type_name().to_uppercase()));
            let message = match &entry.note {
                Some(note) => format!("{message} ({note})"),
                None => message,
            };
            out.push(finding(entry.severity, &code, field, message));
        };
        apply_one(claim, entry, &payer, &mut emit);
    }
    out
}

fn apply_one(claim: &Claim, entry: &RuleEntry, payer: &str, emit: &mut impl FnMut(String, String)) {
    let at = |line: &ClaimLine, field: &str| format!("lines[{}].{field}", line.line_number);
    match &entry.rule {
        Rule::RequiredModifier { codes, any_of } => {
            for line in claim.lines.iter().filter(|line| codes.contains(&line.procedure)) {
                if !line.modifiers.iter().any(|modifier| any_of.contains(modifier)) {
                    let wanted: Vec<&str> = any_of.iter().map(|m| m.as_str()).collect();
                    emit(
                        at(line, "modifiers"),
                        format!("{payer} requires one of modifiers {} on {}", wanted.join(", "), line.procedure),
                    );
                }
            }
        }
        Rule::PriorAuthRequired { codes } => {
            let has_auth = claim.prior_authorization.as_deref().is_some_and(|auth| !auth.trim().is_empty());
            if !has_auth {
                if let Some(line) = claim.lines.iter().find(|line| codes.contains(&line.procedure)) {
                    emit(
                        "prior_authorization".into(),
                        format!(
                            "{payer} requires prior authorization for {} (line {}): enter the authorization number",
                            line.procedure, line.line_number
                        ),
                    );
                }
            }
        }
        Rule::MaxUnitsPerDay { code, max } => {
            let mut per_day: BTreeMap<NaiveDate, (Decimal, u32)> = BTreeMap::new();
            for line in claim.lines.iter().filter(|line| &line.procedure == code) {
                let entry = per_day.entry(line.service_date).or_insert((Decimal::ZERO, line.line_number));
                entry.0 += line.units;
            }
            for (day, (units, first_line)) in per_day {
                if units > *max {
                    emit(
                        format!("lines[{first_line}].units"),
                        format!("{payer} pays at most {max} units of {code} per day; {units} billed on {day}"),
                    );
                }
            }
        }
        Rule::NotBillableTogether { column1, column2, bypass_modifiers } => {
            for first in claim.lines.iter().filter(|line| &line.procedure == column1) {
                for second in claim.lines.iter().filter(|line| {
                    &line.procedure == column2
                        && line.service_date == first.service_date
                        && !line.modifiers.iter().any(|modifier| bypass_modifiers.contains(modifier))
                }) {
                    let bypass = if bypass_modifiers.is_empty() {
                        "this pair is never paid together".to_string()
                    } else {
                        let names: Vec<&str> = bypass_modifiers.iter().map(|m| m.as_str()).collect();
                        format!("remove it, or add {} if it was a distinct service", names.join(" or "))
                    };
                    emit(
                        at(second, "procedure"),
                        format!(
                            "{payer} bundles {column2} into {column1} (line {}) on {}: {bypass}",
                            first.line_number, first.service_date
                        ),
                    );
                }
            }
        }
        Rule::DiagnosisRequired { codes, diagnoses } => {
            for line in claim.lines.iter().filter(|line| codes.contains(&line.procedure)) {
                let supported = line.diagnosis_pointers.iter().any(|pointer| {
                    usize::from(*pointer)
                        .checked_sub(1)
                        .and_then(|index| claim.diagnoses.get(index))
                        .is_some_and(|dx| diagnoses.iter().any(|prefix| dx.as_str().starts_with(prefix.as_str())))
                });
                if !supported {
                    emit(
                        at(line, "diagnosis_pointers"),
                        format!(
                            "{payer} pays {} only with a diagnosis starting {}; point the line at one",
                            line.procedure,
                            diagnoses.join(", ")
                        ),
                    );
                }
            }
        }
        Rule::FilingLimitDays { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use practice_protocol::claim::ScrubSeverity;
    use practice_protocol::codes::Icd10;
    use rust_decimal_macros::dec;

    fn rules(rules: &str) -> PayerRules {
        PayerRules::from_json("t.json", &format!(r#"{{"payer_id":"87726","payer_name":"Acme","rules":[{rules}]}}"#))
            .unwrap()
    }

    fn fields(findings: &[ScrubFinding]) -> Vec<&str> {
        findings.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn required_modifier() {
        let set = rules(r#"{"type":"required_modifier","codes":["36415"],"any_of":["LT","RT"]}"#);
        let mut claim = fixture::claim();
        let found = apply_rules(&claim, &set);
        assert_eq!(fields(&found), ["lines[2].modifiers"]);
        assert_eq!(found[0].code, "PAYER-REQUIRED_MODIFIER");
        assert!(found[0].message.contains("Acme requires one of modifiers LT, RT on 36415"));
        claim.lines[1].modifiers = vec![fixture::modifier("RT")];
        assert!(apply_rules(&claim, &set).is_empty());
    }

    #[test]
    fn prior_auth() {
        let set = rules(r#"{"type":"prior_auth_required","codes":["99213"],"id":"ACME-PA","note":"policy 7"}"#);
        let mut claim = fixture::claim();
        let found = apply_rules(&claim, &set);
        assert_eq!((found[0].code.as_str(), found[0].field.as_str()), ("ACME-PA", "prior_authorization"));
        assert!(found[0].message.ends_with("(policy 7)"));
        claim.prior_authorization = Some("  ".into());
        assert_eq!(apply_rules(&claim, &set).len(), 1, "blank is not an authorization");
        claim.prior_authorization = Some("AUTH123".into());
        assert!(apply_rules(&claim, &set).is_empty());
    }

    #[test]
    fn max_units_sums_lines_of_one_day() {
        let set = rules(r#"{"type":"max_units_per_day","code":"36415","max":2,"severity":"warning"}"#);
        let mut claim = fixture::claim();
        claim.lines[1].units = dec!(2);
        assert!(apply_rules(&claim, &set).is_empty());
        let mut extra = fixture::line(3, "36415", dec!(25), claim.lines[1].service_date);
        extra.modifiers = vec![fixture::modifier("91")];
        claim.lines.push(extra.clone());
        let found = apply_rules(&claim, &set);
        assert_eq!(fields(&found), ["lines[2].units"]);
        assert_eq!(found[0].severity, ScrubSeverity::Warning);
        // Another day is counted separately.
        claim.lines[2].service_date = fixture::date(2026, 3, 3);
        assert!(apply_rules(&claim, &set).is_empty());
    }

    #[test]
    fn pairs_not_billable_together() {
        let set = rules(
            r#"{"type":"not_billable_together","column1":"99213","column2":"36415","bypass_modifiers":["59","XU"]}"#,
        );
        let mut claim = fixture::claim();
        let found = apply_rules(&claim, &set);
        assert_eq!(fields(&found), ["lines[2].procedure"]);
        assert!(found[0].message.contains("add 59 or XU"), "{}", found[0].message);
        claim.lines[1].modifiers = vec![fixture::modifier("XU")];
        assert!(apply_rules(&claim, &set).is_empty());
        claim.lines[1].modifiers.clear();
        claim.lines[1].service_date = fixture::date(2026, 3, 1);
        assert!(apply_rules(&claim, &set).is_empty(), "different days are not bundled");
    }

    #[test]
    fn diagnosis_required_follows_the_pointers() {
        let set = rules(r#"{"type":"diagnosis_required","codes":["36415"],"diagnoses":["I10"]}"#);
        let mut claim = fixture::claim(); // line 2 points at E11.9 only
        assert_eq!(fields(&apply_rules(&claim, &set)), ["lines[2].diagnosis_pointers"]);
        claim.lines[1].diagnosis_pointers = vec![1, 2];
        assert!(apply_rules(&claim, &set).is_empty());
        claim.diagnoses[1] = Icd10::parse("I11.0").unwrap();
        assert_eq!(apply_rules(&claim, &set).len(), 1, "I110 does not start with I10");
    }
}
