//! Claim adjustment reason codes (CARC): a short description in our own words and the
//! denial category and root cause each one implies. Denial OS refines the triage; this table
//! is the default every posting uses.

use crate::domain::denial::{DenialCategory, RootCause};

struct CarcEntry {
    code: &'static str,
    description: &'static str,
    category: DenialCategory,
    root_cause: RootCause,
}

use DenialCategory::{Administrative, Clinical, Technical};
use RootCause::*;

const TABLE: &[CarcEntry] = &[
    CarcEntry { code: "1", description: "deductible", category: Administrative, root_cause: Other },
    CarcEntry { code: "2", description: "coinsurance", category: Administrative, root_cause: Other },
    CarcEntry { code: "3", description: "copayment", category: Administrative, root_cause: Other },
    CarcEntry {
        code: "4",
        description: "modifier missing or inconsistent with the procedure",
        category: Technical,
        root_cause: CodingError,
    },
    CarcEntry {
        code: "11",
        description: "diagnosis inconsistent with the procedure",
        category: Clinical,
        root_cause: CodingError,
    },
    CarcEntry {
        code: "16",
        description: "claim lacks information needed to adjudicate",
        category: Technical,
        root_cause: MissingInformation,
    },
    CarcEntry {
        code: "18",
        description: "duplicate claim or service",
        category: Administrative,
        root_cause: Duplicate,
    },
    CarcEntry {
        code: "22",
        description: "another payer may be responsible (coordination of benefits)",
        category: Administrative,
        root_cause: CoordinationOfBenefits,
    },
    CarcEntry {
        code: "23",
        description: "adjusted for what prior payers paid",
        category: Administrative,
        root_cause: CoordinationOfBenefits,
    },
    CarcEntry {
        code: "27",
        description: "service after coverage ended",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "29",
        description: "filing time limit passed",
        category: Administrative,
        root_cause: TimelyFiling,
    },
    CarcEntry {
        code: "31",
        description: "patient not identified as our insured",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "45",
        description: "charge above the fee schedule or contracted amount",
        category: Administrative,
        root_cause: Other,
    },
    CarcEntry {
        code: "50",
        description: "not deemed medically necessary by the payer",
        category: Clinical,
        root_cause: MedicalNecessity,
    },
    CarcEntry { code: "96", description: "non-covered charge", category: Clinical, root_cause: MedicalNecessity },
    CarcEntry {
        code: "97",
        description: "included in the payment for another service (bundled)",
        category: Technical,
        root_cause: Bundling,
    },
    CarcEntry {
        code: "109",
        description: "not covered by this payer or contractor",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "119",
        description: "benefit maximum reached",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "151",
        description: "more services than the payer allows for this period (units/frequency)",
        category: Clinical,
        root_cause: CodingError,
    },
    CarcEntry { code: "167", description: "diagnosis not covered", category: Clinical, root_cause: MedicalNecessity },
    CarcEntry {
        code: "170",
        description: "payment denied for this provider type",
        category: Administrative,
        root_cause: Other,
    },
    CarcEntry {
        code: "197",
        description: "precertification or authorization absent",
        category: Administrative,
        root_cause: MissingAuth,
    },
    CarcEntry {
        code: "204",
        description: "not covered under the patient's benefit plan",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "236",
        description: "procedure pair not allowed together (NCCI)",
        category: Technical,
        root_cause: Bundling,
    },
    CarcEntry {
        code: "242",
        description: "provider not in the patient's network",
        category: Administrative,
        root_cause: Eligibility,
    },
    CarcEntry {
        code: "252",
        description: "an attachment or other documentation is required",
        category: Technical,
        root_cause: MissingInformation,
    },
    CarcEntry { code: "253", description: "sequestration reduction", category: Administrative, root_cause: Other },
];

/// Our short description of a CARC, or a generic one for codes outside the table.
pub fn description(code: &str) -> String {
    TABLE
        .iter()
        .find(|entry| entry.code == code)
        .map(|entry| entry.description.to_string())
        .unwrap_or_else(|| format!("adjustment reason {code}"))
}

/// The denial category and root cause a CARC implies (Administrative/Other when unknown).
pub fn classify(code: &str) -> (DenialCategory, RootCause) {
    TABLE
        .iter()
        .find(|entry| entry.code == code)
        .map(|entry| (entry.category, entry.root_cause))
        .unwrap_or((Administrative, Other))
}

pub fn is_known(code: &str) -> bool {
    TABLE.iter().any(|entry| entry.code == code)
}
