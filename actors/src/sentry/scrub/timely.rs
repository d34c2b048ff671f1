//! Timely filing: a claim must reach the payer within its filing limit, counted in days from
//! the earliest date of service (REALISM.md §8: Medicare and Medicaid 12 months, commercial
//! commonly 90 days for participating providers).

use super::finding;
use chrono::NaiveDate;
use practice_protocol::claim::{ScrubFinding, ScrubSeverity};
use practice_protocol::domain::Claim;

/// Within this many days of the limit a warning says to send it now.
pub const FILING_WARNING_DAYS: i64 = 14;

/// The filing limit when the payer's rules do not set one, by claim filing indicator (SBR09):
/// Medicare (MA, MB), Medicaid (MC) and Medicare Advantage HMO (16) allow a year; everything
/// else (commercial, BCBS, HMO, ...) gets the strict commercial 90 days.
pub fn default_filing_limit_days(filing_indicator: Option<&str>) -> u32 {
    match filing_indicator.map(str::trim) {
        Some("MA" | "MB" | "MC" | "16") => 365,
        _ => 90,
    }
}

/// An error when the limit has passed, a warning when it is near. Resubmissions (frequency 7
/// or 8) are judged by the same clock: payers count from the date of service.
pub fn check_timely_filing(claim: &Claim, limit_days: u32, today: NaiveDate) -> Vec<ScrubFinding> {
    let Some(earliest) = claim.lines.iter().map(|line| line.service_date).min() else {
        return Vec::new();
    };
    let deadline = earliest + chrono::Duration::days(i64::from(limit_days));
    let left = (deadline - today).num_days();
    if left < 0 {
        vec![finding(
            ScrubSeverity::Error,
            "TIMELY-FILING",
            "lines.service_date",
            format!(
                "the payer's {limit_days}-day filing limit from {earliest} ended {deadline}: the claim will be denied \
                 CO-29 unless you hold proof of timely filing"
            ),
        )]
    } else if left <= FILING_WARNING_DAYS {
        vec![finding(
            ScrubSeverity::Warning,
            "TIMELY-FILING",
            "lines.service_date",
            format!(
                "only {left} days left of the payer's {limit_days}-day filing limit (deadline {deadline}): submit now"
            ),
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn defaults_by_filing_indicator() {
        assert_eq!(default_filing_limit_days(Some("MB")), 365);
        assert_eq!(default_filing_limit_days(Some("MC")), 365);
        assert_eq!(default_filing_limit_days(Some("CI")), 90);
        assert_eq!(default_filing_limit_days(None), 90);
    }

    #[test]
    fn boundaries() {
        let claim = fixture::claim(); // serviced 2026-03-02
        let on = |d| check_timely_filing(&claim, 90, d);
        assert!(on(fixture::date(2026, 5, 16)).is_empty(), "15 days left");
        assert_eq!(on(fixture::date(2026, 5, 17))[0].severity, ScrubSeverity::Warning);
        assert_eq!(on(fixture::date(2026, 5, 31))[0].severity, ScrubSeverity::Warning, "deadline day itself");
        let late = on(fixture::date(2026, 6, 1));
        assert_eq!(late[0].severity, ScrubSeverity::Error);
        assert!(late[0].message.contains("2026-05-31"), "{}", late[0].message);
    }

    #[test]
    fn counts_from_the_earliest_line() {
        let mut claim = fixture::claim();
        claim.lines[1].service_date = fixture::date(2026, 1, 1);
        assert_eq!(check_timely_filing(&claim, 90, fixture::date(2026, 4, 2))[0].severity, ScrubSeverity::Error);
    }
}
