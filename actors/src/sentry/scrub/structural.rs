//! Structural checks beyond `Claim::validate`: dates that make sense, identifiers a payer
//! accepts, places of service that exist, units and charges a payer can price, diagnosis
//! pointers that say something.

use super::finding;
use chrono::NaiveDate;
use practice_protocol::claim::{ScrubFinding, ScrubSeverity};
use practice_protocol::domain::{Claim, ClaimType};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

use ScrubSeverity::{Error, Warning};

/// CMS place-of-service codes in use (the POS code set; unassigned numbers are refused).
const PLACES_OF_SERVICE: &[&str] = &[
    "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19",
    "20", "21", "22", "23", "24", "25", "26", "27", "31", "32", "33", "34", "41", "42", "49", "50", "51", "52", "53",
    "54", "55", "56", "57", "58", "60", "61", "62", "65", "66", "71", "72", "81", "99",
];

/// EIN prefixes the IRS has never assigned; a tax id starting with one is a typo (or an SSN).
const UNASSIGNED_EIN_PREFIXES: [&str; 17] =
    ["00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89", "96", "97"];

/// Largest unit count we let through on one line; beyond it the number is a keying error.
const MAX_UNITS: Decimal = Decimal::from_parts(999, 0, 0, false, 0);

/// Every structural finding for `claim` as of `today`.
pub fn check_structure(claim: &Claim, today: NaiveDate) -> Vec<ScrubFinding> {
    let mut out = Vec::new();
    check_parties(claim, today, &mut out);
    check_places(claim, &mut out);
    check_diagnoses(claim, &mut out);
    check_lines(claim, today, &mut out);
    if let Some(info) = &claim.institutional {
        if info.statement_from > info.statement_to {
            out.push(finding(
                Error,
                "DATES",
                "institutional.statement_to",
                format!("statement period ends {} before it starts {}", info.statement_to, info.statement_from),
            ));
        }
        for line in &claim.lines {
            if line.service_date < info.statement_from || line.service_date > info.statement_to {
                out.push(finding(
                    Error,
                    "DATES",
                    format!("lines[{}].service_date", line.line_number),
                    format!(
                        "service date {} is outside the statement period {} to {}",
                        line.service_date, info.statement_from, info.statement_to
                    ),
                ));
            }
        }
    }
    out
}

fn check_parties(claim: &Claim, today: NaiveDate, out: &mut Vec<ScrubFinding>) {
    if claim.patient.birth_date > today {
        out.push(finding(Error, "DATES", "patient.birth_date", "the patient's birth date is in the future"));
    }
    let tax_id = claim.billing.tax_id.as_str();
    if UNASSIGNED_EIN_PREFIXES.contains(&&tax_id[..2]) || tax_id.bytes().all(|b| b == tax_id.as_bytes()[0]) {
        out.push(finding(
            Warning,
            "TAX-ID",
            "billing.tax_id",
            "the tax id is not a valid EIN (unassigned prefix or repeated digit); check it or confirm it is an SSN",
        ));
    }
    if claim.rendering.npi == claim.billing.npi && claim.claim_type == ClaimType::Professional {
        // Solo practitioners bill under their own NPI; groups must not.
        out.push(finding(
            Warning,
            "NPI",
            "rendering.npi",
            "rendering NPI equals the billing NPI: correct only for a solo practitioner billing as themselves",
        ));
    }
    if let Some(referring) = &claim.referring {
        if referring.npi == claim.rendering.npi {
            out.push(finding(Warning, "NPI", "referring.npi", "the referring provider is the rendering provider"));
        }
    }
    match claim.coverage() {
        Some(coverage) => {
            let member = coverage.subscriber.member_id.trim();
            let shape_ok =
                (2..=80).contains(&member.len()) && member.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !shape_ok {
                out.push(finding(
                    Error,
                    "MEMBER-ID",
                    "coverage.subscriber.member_id",
                    "the member id must be 2 to 80 letters, digits or dashes, exactly as on the insurance card",
                ));
            }
            if coverage.subscriber.birth_date > today {
                out.push(finding(
                    Error,
                    "DATES",
                    "coverage.subscriber.birth_date",
                    "the subscriber's birth date is in the future",
                ));
            }
            if coverage.payer.filing_indicator.trim().is_empty() {
                out.push(finding(
                    Error,
                    "PAYER",
                    "coverage.payer.filing_indicator",
                    "the claim filing indicator (SBR09) is required",
                ));
            }
        }
        None => out.push(finding(
            Error,
            "COVERAGE",
            "coverages",
            format!("the patient has no {:?} coverage to bill", claim.responsibility),
        )),
    }
    if claim.patient_control_number.bytes().any(|b| !b.is_ascii_graphic()) {
        out.push(finding(
            Error,
            "PCN",
            "patient_control_number",
            "the patient control number must be printable characters without spaces (CLM01)",
        ));
    }
}

fn known_place(code: &str) -> bool {
    PLACES_OF_SERVICE.contains(&code)
}

fn check_places(claim: &Claim, out: &mut Vec<ScrubFinding>) {
    if claim.claim_type == ClaimType::Institutional {
        return; // 837I carries the facility type code instead.
    }
    if !known_place(claim.place_of_service.as_str()) {
        out.push(finding(
            Error,
            "POS",
            "place_of_service",
            format!("place of service {} is not a CMS place-of-service code", claim.place_of_service),
        ));
    }
    for line in &claim.lines {
        if let Some(place) = &line.place_of_service {
            if !known_place(place.as_str()) {
                out.push(finding(
                    Error,
                    "POS",
                    format!("lines[{}].place_of_service", line.line_number),
                    format!("place of service {place} is not a CMS place-of-service code"),
                ));
            }
        }
    }
}

fn check_diagnoses(claim: &Claim, out: &mut Vec<ScrubFinding>) {
    if let Some(principal) = claim.diagnoses.first() {
        // ICD-10-CM guideline: external-cause codes (V00–Y99) never stand first.
        if matches!(principal.as_str().as_bytes()[0], b'V' | b'W' | b'X' | b'Y') {
            out.push(finding(
                Error,
                "DX-PRINCIPAL",
                "diagnoses[1]",
                format!(
                    "{principal} is an external-cause code and cannot be the first diagnosis; list the injury first"
                ),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (index, diagnosis) in claim.diagnoses.iter().enumerate() {
        if !seen.insert(diagnosis.as_str()) {
            out.push(finding(
                Error,
                "DX-DUPLICATE",
                format!("diagnoses[{}]", index + 1),
                format!("diagnosis {diagnosis} is listed twice; remove the repeat and renumber the pointers"),
            ));
        }
    }
    let pointed: BTreeSet<u8> = claim.lines.iter().flat_map(|line| line.diagnosis_pointers.iter().copied()).collect();
    for index in 1..=claim.diagnoses.len() {
        let pointer = u8::try_from(index).unwrap_or(u8::MAX);
        if !pointed.contains(&pointer) {
            out.push(finding(
                Warning,
                "DX-UNUSED",
                format!("diagnoses[{index}]"),
                format!("diagnosis {} is not pointed at by any line", claim.diagnoses[index - 1]),
            ));
        }
    }
}

fn check_lines(claim: &Claim, today: NaiveDate, out: &mut Vec<ScrubFinding>) {
    let mut seen_services = BTreeSet::new();
    for line in &claim.lines {
        let at = |field: &str| format!("lines[{}].{field}", line.line_number);
        if line.service_date > today {
            out.push(finding(
                Error,
                "DATES",
                at("service_date"),
                format!("service date {} is in the future", line.service_date),
            ));
        }
        if line.service_date < claim.patient.birth_date {
            out.push(finding(Error, "DATES", at("service_date"), "service date is before the patient's birth date"));
        }
        let mut pointers = BTreeSet::new();
        if line.diagnosis_pointers.iter().any(|pointer| !pointers.insert(*pointer)) {
            out.push(finding(
                Error,
                "DX-POINTER",
                at("diagnosis_pointers"),
                "a diagnosis pointer is repeated on this line",
            ));
        }
        let mut modifiers = BTreeSet::new();
        if line.modifiers.iter().any(|modifier| !modifiers.insert(modifier.as_str())) {
            out.push(finding(Error, "MODIFIER", at("modifiers"), "a modifier is repeated on this line"));
        }
        if line.units > MAX_UNITS {
            out.push(finding(
                Error,
                "UNITS",
                at("units"),
                format!("{} units is more than {MAX_UNITS}; check for a keying error", line.units),
            ));
        } else if line.units.fract() != Decimal::ZERO {
            if line.units.scale() > 3 {
                out.push(finding(Error, "UNITS", at("units"), "units allow at most three decimal places"));
            } else {
                out.push(finding(Warning, "UNITS", at("units"), "fractional units: most payers want whole units"));
            }
        }
        if line.charge.amount.is_zero() {
            out.push(finding(Error, "CHARGE", at("charge"), "the line has no charge; bill the practice's full fee"));
        } else if (line.charge.amount * Decimal::ONE_HUNDRED).fract() != Decimal::ZERO {
            out.push(finding(Error, "CHARGE", at("charge"), "charges are whole cents"));
        }
        let key =
            (line.procedure.as_str(), line.modifiers.iter().map(|m| m.as_str()).collect::<Vec<_>>(), line.service_date);
        if !seen_services.insert(key) {
            out.push(finding(
                Warning,
                "DUPLICATE-LINE",
                at("procedure"),
                format!(
                    "{} is billed twice on {} with the same modifiers; add units or a modifier (76/77/59) instead",
                    line.procedure, line.service_date
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use practice_protocol::codes::{Icd10, PlaceOfService, TaxId};
    use rust_decimal_macros::dec;

    fn codes(findings: &[ScrubFinding]) -> Vec<(&str, &str)> {
        findings.iter().map(|f| (f.code.as_str(), f.field.as_str())).collect()
    }

    fn today() -> NaiveDate {
        fixture::date(2026, 3, 10)
    }

    #[test]
    fn clean_claim_has_no_findings() {
        assert!(check_structure(&fixture::claim(), today()).is_empty());
    }

    #[test]
    fn future_dates_are_errors() {
        let mut claim = fixture::claim();
        claim.lines[1].service_date = fixture::date(2026, 4, 1);
        let findings = check_structure(&claim, today());
        assert_eq!(codes(&findings), [("DATES", "lines[2].service_date")]);
        assert_eq!(findings[0].severity, Error);
        claim.patient.birth_date = fixture::date(2027, 1, 1);
        let findings = check_structure(&claim, today());
        assert!(codes(&findings).contains(&("DATES", "patient.birth_date")));
        assert!(codes(&findings).contains(&("DATES", "lines[1].service_date")), "before birth");
    }

    #[test]
    fn identifiers_and_places() {
        let mut claim = fixture::claim();
        claim.billing.tax_id = TaxId::parse("07-1234567").unwrap();
        claim.place_of_service = PlaceOfService::parse("35").unwrap();
        claim.coverages[0].subscriber.member_id = "W 12".into();
        claim.patient_control_number = "PCN 1".into();
        let found = codes(&check_structure(&claim, today()))
            .into_iter()
            .map(|(code, field)| format!("{code}@{field}"))
            .collect::<Vec<_>>();
        assert_eq!(
            found,
            [
                "TAX-ID@billing.tax_id",
                "MEMBER-ID@coverage.subscriber.member_id",
                "PCN@patient_control_number",
                "POS@place_of_service"
            ]
        );
    }

    #[test]
    fn diagnoses_and_pointers() {
        let mut claim = fixture::claim();
        claim.diagnoses = vec![
            Icd10::parse("W19.XXXA").unwrap(),
            Icd10::parse("S72.001A").unwrap(),
            Icd10::parse("S72.001A").unwrap(),
        ];
        claim.lines[0].diagnosis_pointers = vec![1, 2, 2];
        let all = check_structure(&claim, today());
        let found = codes(&all);
        assert!(found.contains(&("DX-PRINCIPAL", "diagnoses[1]")));
        assert!(found.contains(&("DX-DUPLICATE", "diagnoses[3]")));
        assert!(found.contains(&("DX-POINTER", "lines[1].diagnosis_pointers")));
        assert!(found.contains(&("DX-UNUSED", "diagnoses[3]")));
    }

    #[test]
    fn units_charges_and_duplicates() {
        let mut claim = fixture::claim();
        claim.lines[0].units = dec!(1000);
        claim.lines[1].units = dec!(1.5);
        let findings = check_structure(&claim, today());
        assert_eq!(codes(&findings), [("UNITS", "lines[1].units"), ("UNITS", "lines[2].units")]);
        assert_eq!([findings[0].severity, findings[1].severity], [Error, Warning]);
        let mut claim = fixture::claim();
        claim.lines[1] = fixture::line(2, "99213", dec!(0), claim.lines[0].service_date);
        let all = check_structure(&claim, today());
        let found = codes(&all);
        assert_eq!(found, [("CHARGE", "lines[2].charge"), ("DUPLICATE-LINE", "lines[2].procedure")]);
        claim.lines[1].modifiers = vec![fixture::modifier("76")];
        claim.lines[1].charge.amount = dec!(10.005);
        assert_eq!(codes(&check_structure(&claim, today())), [("CHARGE", "lines[2].charge")]);
    }
}
