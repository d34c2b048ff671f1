//! The claim scrubber: structural checks, the payer's timely-filing window and the payer's
//! own rules (loaded from a JSON file per payer, see `docs/payer-rules.md`).
//!
//! `scrub` is pure: claim + rules + today's date in, `ScrubFinding`s out. Errors block the
//! Scrubbed transition, warnings do not. `Claim::validate` (which `decide` already runs on
//! every Scrub command) is not repeated here; these are the checks it does not make.

mod payer;
mod rules;
mod structural;
mod timely;

pub use payer::apply_rules;
pub use rules::{PayerRules, Rule, RuleBook, RulesError};
pub use structural::check_structure;
pub use timely::{check_timely_filing, default_filing_limit_days, FILING_WARNING_DAYS};

use chrono::NaiveDate;
use practice_protocol::claim::{ScrubFinding, ScrubSeverity};
use practice_protocol::domain::Claim;

/// Every check for one claim: structure, timely filing (the payer's limit, else the default
/// for its filing indicator), then the payer's rules when `rules` is given.
pub fn scrub(claim: &Claim, rules: Option<&PayerRules>, today: NaiveDate) -> Vec<ScrubFinding> {
    let mut findings = check_structure(claim, today);
    let limit = rules.and_then(PayerRules::filing_limit_days).unwrap_or_else(|| {
        default_filing_limit_days(claim.coverage().map(|coverage| coverage.payer.filing_indicator.as_str()))
    });
    findings.extend(check_timely_filing(claim, limit, today));
    if let Some(rules) = rules {
        findings.extend(apply_rules(claim, rules));
    }
    findings
}

/// True when no finding blocks submission.
pub fn passes(findings: &[ScrubFinding]) -> bool {
    findings.iter().all(|finding| finding.severity != ScrubSeverity::Error)
}

pub(crate) fn finding(
    severity: ScrubSeverity,
    code: &str,
    field: impl Into<String>,
    message: impl Into<String>,
) -> ScrubFinding {
    ScrubFinding { severity, code: code.to_string(), field: field.into(), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn a_clean_claim_passes_with_and_without_rules() {
        let claim = fixture::claim();
        let today = fixture::date(2026, 3, 10);
        let findings = scrub(&claim, None, today);
        assert!(findings.is_empty(), "{findings:?}");
        let rules = PayerRules::from_json("inline", r#"{"payer_id":"87726","rules":[]}"#).unwrap();
        assert!(scrub(&claim, Some(&rules), today).is_empty());
    }

    #[test]
    fn the_payers_filing_limit_overrides_the_default() {
        let claim = fixture::claim();
        let today = fixture::date(2026, 5, 15); // 74 days after service
        assert!(passes(&scrub(&claim, None, today)), "commercial default is 90 days");
        let rules =
            PayerRules::from_json("inline", r#"{"payer_id":"87726","rules":[{"type":"filing_limit_days","days":60}]}"#)
                .unwrap();
        let findings = scrub(&claim, Some(&rules), today);
        assert!(!passes(&findings));
        assert_eq!(findings[0].code, "TIMELY-FILING");
    }
}
