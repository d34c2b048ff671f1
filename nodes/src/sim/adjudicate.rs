//! Adjudicating one claim the way a payer would: a front-end 277CA decision, then line by
//! line the contract's allowed amount, silent underpayments, patient share (PR-1/2/3),
//! contractual write-down (CO-45), sequestration (CO-253) and denials with real CARC/RARC.
//! Secondary and tertiary claims are paid by the COB rule in `cob` (OA-23 for what the prior
//! payers paid); one that carries no prior adjudication is denied CO-22 (MA04).
//! Pure: claim + profile + random stream in, `Adjudication` out. Every line balances:
//! charge = paid + Σ adjustments.

use super::cob::{pay_line, prior_lines, LeftoverShare, PriorLine};
use super::profile::{cents, DenialCause, PayerKind, PayerProfile};
use super::rng::SimRng;
use chrono::NaiveDate;
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::domain::{Claim, ClaimLine, CoverageOrder};
use practice_protocol::ids::{ClaimId, ClaimLineId};
use practice_protocol::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What happens to a claim at the payer's front door (277CA).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrontEnd {
    /// A2: accepted into adjudication under the payer's claim control number.
    Accepted { payer_claim_control_number: String },
    /// A3/A6/A7/A8: rejected; the claim was never filed. `status_code` and `entity` fill the
    /// rest of the STC01 composite (claim status code list 508, entity identifier 98).
    Rejected { category: String, status_code: String, entity: Option<String>, reason: String },
}

/// 277CA rejection reasons (REALISM.md §10 front_end.reject_mix): weight, category, claim
/// status code, entity, and what is wrong. Status codes: 33 subscriber and subscriber id not
/// found, 562 entity's NPI, 454 procedure code for services rendered, 116 claim submitted to
/// the incorrect payer, 21 missing or invalid information.
const REJECT_MIX: [(u32, &str, &str, Option<&str>, &str); 5] = [
    (400_000, "A7", "33", Some("IL"), "subscriber member id or date of birth not found"),
    (200_000, "A7", "562", Some("85"), "billing provider NPI not enrolled with the payer"),
    (200_000, "A7", "454", None, "procedure code or modifier invalid for the date of service"),
    (100_000, "A3", "116", None, "payer id does not route to this payer"),
    (100_000, "A6", "21", None, "required claim information missing"),
];

/// The payer's decision on one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineOutcome {
    pub line_number: u32,
    pub line_id: ClaimLineId,
    pub submitted_procedure: String,
    pub submitted_modifiers: Vec<String>,
    /// The code and modifiers the payer reports (SVC01), after any rewrite or dropped modifier.
    pub paid_procedure: String,
    pub paid_modifiers: Vec<String>,
    /// The payer leaves out REF*6R for this line.
    pub omit_line_control: bool,
    pub service_date: NaiveDate,
    pub units: Decimal,
    pub charge: Decimal,
    /// What the contract says the submitted service is worth.
    pub contract_allowed: Decimal,
    /// What the payer allowed (below the contract when it underpaid or downcoded).
    pub allowed: Decimal,
    pub paid: Decimal,
    pub adjustments: Vec<Adjustment>,
    pub remark_codes: Vec<String>,
    pub denial: Option<DenialCause>,
    /// On a secondary or tertiary claim: what the prior payers paid and left to the patient.
    #[serde(default)]
    pub prior: Option<PriorLine>,
}

impl LineOutcome {
    /// Contract minus allowed on a paid line: money the payer kept without saying so.
    pub fn underpaid(&self) -> Decimal {
        if self.denial.is_some() {
            Decimal::ZERO
        } else {
            self.contract_allowed - self.allowed
        }
    }

    pub fn patient_responsibility(&self) -> Decimal {
        self.adjustments.iter().filter(|a| a.group == AdjustmentGroup::PR).map(|a| a.amount.amount).sum()
    }
}

/// The payer's decision on a claim it accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjudication {
    pub claim_id: ClaimId,
    pub patient_control_number: String,
    pub payer_claim_control_number: String,
    /// CLP02: 1/2/3 by the claim's responsibility, 4 when every line is denied.
    pub status_code: String,
    pub lines: Vec<LineOutcome>,
    /// The cause that denied the claim or its first denied line.
    pub denial: Option<DenialCause>,
}

impl Adjudication {
    pub fn charge(&self) -> Decimal {
        self.lines.iter().map(|line| line.charge).sum()
    }

    pub fn paid(&self) -> Decimal {
        self.lines.iter().map(|line| line.paid).sum()
    }

    pub fn patient_responsibility(&self) -> Decimal {
        self.lines.iter().map(LineOutcome::patient_responsibility).sum()
    }
}

/// Facts about the claim the payer knows from its own history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Circumstances {
    pub received_on: NaiveDate,
    /// The same service was already adjudicated for this patient (an original resubmitted).
    pub duplicate: bool,
}

/// The 277CA decision. Drawn first from the claim's stream, so it replays with the seed.
pub fn front_end(profile: &PayerProfile, rng: &mut SimRng, payer_ccn: String) -> FrontEnd {
    if rng.chance(profile.params.p_277ca_reject) {
        let weights: Vec<u32> = REJECT_MIX.iter().map(|(weight, ..)| *weight).collect();
        let (_, category, status_code, entity, reason) = REJECT_MIX[rng.weighted(&weights).unwrap_or(0)];
        return FrontEnd::Rejected {
            category: category.to_string(),
            status_code: status_code.to_string(),
            entity: entity.map(str::to_string),
            reason: reason.to_string(),
        };
    }
    FrontEnd::Accepted { payer_claim_control_number: payer_ccn }
}

fn is_evaluation_and_management(code: &str) -> bool {
    code.len() == 5 && code.starts_with("992") && code.bytes().all(|b| b.is_ascii_digit())
}

/// One level down for office E/M codes (the payer's downcode), else None.
fn downcode(code: &str) -> Option<String> {
    match code {
        "99203" | "99204" | "99205" | "99213" | "99214" | "99215" => {
            let level: u32 = code[4..].parse().ok()?;
            Some(format!("{}{}", &code[..4], level - 1))
        }
        _ => None,
    }
}

fn adjustment(
    group: AdjustmentGroup,
    reason: &str,
    amount: Decimal,
    currency: practice_protocol::Currency,
) -> Adjustment {
    Adjustment { group, reason: reason.to_string(), amount: Money::new(amount, currency), quantity: None }
}

/// Adjudicate an accepted claim.
pub fn adjudicate(
    claim: &Claim,
    profile: &PayerProfile,
    rng: &mut SimRng,
    circumstances: Circumstances,
    payer_claim_control_number: String,
) -> Adjudication {
    let params = &profile.params;
    let earliest = claim.lines.iter().map(|line| line.service_date).min().unwrap_or(circumstances.received_on);
    let late = (circumstances.received_on - earliest).num_days() > i64::from(params.filing_limit_days);
    let priors = if claim.responsibility == CoverageOrder::Primary { None } else { Some(prior_lines(claim)) };
    // Whole-claim causes that the claim earned, then the random draw.
    let mut whole: Option<DenialCause> = if late {
        Some(DenialCause::TimelyFiling)
    } else if circumstances.duplicate {
        Some(DenialCause::Duplicate)
    } else if matches!(priors, Some(None)) {
        // Billed as secondary with no prior payer's adjudication: primary EOB missing.
        Some(DenialCause::CobTpl)
    } else {
        None
    };
    let mut line_denials: Vec<Option<DenialCause>> = vec![None; claim.lines.len()];
    let denied_draw = rng.chance(params.p_claim_denied);
    let whole_draw = rng.chance(params.p_whole_claim_given_denied);
    let line_draw = rng.below(claim.lines.len().max(1) as u64) as usize;
    if whole.is_none() && denied_draw {
        let mut weights = params.reason_mix.clone();
        // Timely filing and duplicates fire only when earned (REALISM.md §10).
        for (index, cause) in DenialCause::ALL.iter().enumerate() {
            if matches!(cause, DenialCause::TimelyFiling | DenialCause::Duplicate) {
                if let Some(weight) = weights.get_mut(index) {
                    *weight = 0;
                }
            }
        }
        if let Some(cause) = rng.weighted(&weights).map(|index| DenialCause::ALL[index]) {
            if cause.whole_claim() || whole_draw {
                whole = Some(cause);
            } else if let Some(slot) = line_denials.get_mut(line_draw) {
                *slot = Some(cause);
            }
        }
    }
    // Causes the claim's content earns on the payer's own rules.
    let has_auth = claim.prior_authorization.as_deref().is_some_and(|auth| !auth.trim().is_empty());
    for (index, line) in claim.lines.iter().enumerate() {
        let code = line.procedure.as_str();
        if !has_auth && profile.auth_required.iter().any(|required| required == code) {
            line_denials[index].get_or_insert(DenialCause::Authorization);
        }
        let bypass = line.modifiers.iter().any(|m| matches!(m.as_str(), "59" | "XE" | "XS" | "XP" | "XU"));
        let bundled = profile.bundled_pairs.iter().any(|(column1, column2)| {
            column2 == code
                && !bypass
                && claim
                    .lines
                    .iter()
                    .any(|other| other.procedure.as_str() == column1 && other.service_date == line.service_date)
        });
        if bundled {
            line_denials[index].get_or_insert(DenialCause::Bundling);
        }
    }
    // Patient share, drawn once per claim.
    let mut deductible_left = if rng.chance(params.p_deductible_open) {
        rng.cents_between(params.deductible_range.0, params.deductible_range.1)
    } else {
        Decimal::ZERO
    };
    let mut copay_left = if rng.chance(params.p_copay) { params.copay } else { Decimal::ZERO };
    let mut lines = Vec::with_capacity(claim.lines.len());
    for (index, line) in claim.lines.iter().enumerate() {
        let denial = whole.or(line_denials[index]);
        let prior = priors.as_ref().and_then(|lines| lines.as_ref()).and_then(|lines| lines.get(index)).copied();
        let share = PatientShare { deductible_left: &mut deductible_left, copay_left: &mut copay_left, prior };
        lines.push(adjudicate_line(claim, line, profile, rng, denial, share));
    }
    let all_denied = lines.iter().all(|line| line.denial.is_some());
    let status_code = if all_denied {
        "4"
    } else {
        match claim.responsibility {
            CoverageOrder::Primary => "1",
            CoverageOrder::Secondary => "2",
            CoverageOrder::Tertiary => "3",
        }
    };
    Adjudication {
        claim_id: claim.id,
        patient_control_number: claim.patient_control_number.to_string(),
        payer_claim_control_number,
        status_code: status_code.to_string(),
        denial: whole.or_else(|| lines.iter().find_map(|line| line.denial)),
        lines,
    }
}

/// What the patient owes so far on a claim: the primary's open deductible and copay, or the
/// prior payers' adjudication of the line on a secondary claim.
struct PatientShare<'a> {
    deductible_left: &'a mut Decimal,
    copay_left: &'a mut Decimal,
    prior: Option<PriorLine>,
}

fn adjudicate_line(
    claim: &Claim,
    line: &ClaimLine,
    profile: &PayerProfile,
    rng: &mut SimRng,
    denial: Option<DenialCause>,
    share: PatientShare<'_>,
) -> LineOutcome {
    let PatientShare { deductible_left, copay_left, prior } = share;
    let params = &profile.params;
    let currency = claim.currency;
    let charge = line.charge.amount;
    let submitted_modifiers: Vec<String> = line.modifiers.iter().map(ToString::to_string).collect();
    let modifier_refs: Vec<&str> = submitted_modifiers.iter().map(String::as_str).collect();
    let contract_allowed = profile.fees.allowed(line.procedure.as_str(), &modifier_refs, line.units, charge);
    // Draw every random decision of the line up front, in a fixed order, so a seed replays.
    let rewrite = rng.chance(params.p_code_rewrite);
    let drop_modifier = rng.chance(params.p_drop_modifier);
    let omit_line_control = rng.chance(params.p_omit_line_control);
    let underpay = rng.chance(params.p_silent_underpayment);
    let underpay_share = rng.fraction_between(params.underpayment_per_mille.0, params.underpayment_per_mille.1);
    let remark_pick = rng.next_u64();
    let mut paid_procedure = line.procedure.to_string();
    let mut paid_modifiers = submitted_modifiers.clone();
    if drop_modifier && !paid_modifiers.is_empty() {
        paid_modifiers.pop();
    }
    let mut outcome = LineOutcome {
        line_number: line.line_number,
        line_id: line.id,
        submitted_procedure: line.procedure.to_string(),
        submitted_modifiers: submitted_modifiers.clone(),
        paid_procedure: paid_procedure.clone(),
        paid_modifiers: paid_modifiers.clone(),
        omit_line_control,
        service_date: line.service_date,
        units: line.units,
        charge,
        contract_allowed,
        allowed: Decimal::ZERO,
        paid: Decimal::ZERO,
        adjustments: Vec::new(),
        remark_codes: Vec::new(),
        denial,
        prior,
    };
    if let Some(cause) = denial {
        let (group, carc, rarcs) = cause.codes();
        let group = AdjustmentGroup::parse(group).unwrap_or(AdjustmentGroup::CO);
        outcome.adjustments.push(adjustment(group, carc, charge, currency));
        if !rarcs.is_empty() {
            outcome.remark_codes.push(rarcs[(remark_pick % rarcs.len() as u64) as usize].to_string());
        }
        return outcome;
    }
    if let Some(prior) = prior {
        // COB: the secondary pays by its own contract, without rewrites or silent cuts.
        let leftover = match profile.kind {
            PayerKind::MedicaidManaged | PayerKind::MedicaidFfs => LeftoverShare::WriteOff,
            _ => LeftoverShare::Patient,
        };
        let cob = pay_line(charge, contract_allowed, prior, params.sequestration, leftover, currency);
        outcome.allowed = cob.allowed;
        outcome.paid = cob.paid;
        outcome.adjustments = cob.adjustments;
        return outcome;
    }
    let mut allowed = contract_allowed;
    if rewrite {
        if let Some(lower) = downcode(line.procedure.as_str()) {
            allowed = profile.fees.allowed(&lower, &modifier_refs, line.units, charge);
            paid_procedure = lower;
        }
    }
    if underpay {
        allowed = cents(allowed * (Decimal::ONE - underpay_share));
    }
    let deductible = (*deductible_left).min(allowed);
    *deductible_left -= deductible;
    let copay = if is_evaluation_and_management(line.procedure.as_str()) {
        let copay = (*copay_left).min(allowed - deductible);
        *copay_left -= copay;
        copay
    } else {
        Decimal::ZERO
    };
    let coinsurance = cents((allowed - deductible - copay) * params.coinsurance);
    let payer_share = allowed - deductible - copay - coinsurance;
    let sequestration = cents(payer_share * params.sequestration);
    let paid = payer_share - sequestration;
    let parts = [
        (AdjustmentGroup::CO, "45", charge - allowed),
        (AdjustmentGroup::PR, "1", deductible),
        (AdjustmentGroup::PR, "3", copay),
        (AdjustmentGroup::PR, "2", coinsurance),
        (AdjustmentGroup::CO, "253", sequestration),
    ];
    outcome.adjustments = parts
        .iter()
        .filter(|(_, _, amount)| *amount > Decimal::ZERO)
        .map(|(g, r, a)| adjustment(*g, r, *a, currency))
        .collect();
    outcome.paid_procedure = paid_procedure;
    outcome.paid_modifiers = paid_modifiers;
    outcome.allowed = allowed;
    outcome.paid = paid;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate::{sample_claim, ClaimShape};
    use crate::sim::profile::{PayerKind, Rate};
    use practice_protocol::ids::PayerId;
    use proptest::prelude::*;

    fn profile(kind: PayerKind) -> PayerProfile {
        PayerProfile::new(PayerId::parse("P1").unwrap(), "Payer One", kind)
    }

    fn on(claim: &Claim) -> Circumstances {
        Circumstances { received_on: claim.lines[0].service_date + chrono::Duration::days(2), duplicate: false }
    }

    fn balances(adjudication: &Adjudication) -> bool {
        adjudication.lines.iter().all(|line| {
            let adjusted: Decimal = line.adjustments.iter().map(|a| a.amount.amount).sum();
            line.charge == line.paid + adjusted && line.paid >= Decimal::ZERO
        })
    }

    #[test]
    fn a_clean_medicare_line_pays_by_the_book() {
        let mut profile = profile(PayerKind::MedicareFfs);
        profile.params.p_claim_denied = Rate::ZERO;
        profile.params.p_silent_underpayment = Rate::ZERO;
        profile.params.p_code_rewrite = Rate::ZERO;
        profile.params.p_deductible_open = Rate::from_ppm(1_000_000);
        profile.params.deductible_range = (Decimal::new(5000, 2), Decimal::new(5000, 2));
        let claim = sample_claim(&ClaimShape::office_visit("99213", Decimal::new(15000, 2)), 1).unwrap();
        let result = adjudicate(&claim, &profile, &mut SimRng::new(3), on(&claim), "CCN1".into());
        // REALISM §9 worked example shape: allowed 92, deductible 50, coinsurance 20% of 42
        // = 8.40, Medicare owes 33.60 less 2% sequestration 0.67 → pays 32.93.
        let line = &result.lines[0];
        assert_eq!(line.allowed, Decimal::new(9200, 2));
        assert_eq!(line.paid, Decimal::new(3293, 2));
        let codes: Vec<String> =
            line.adjustments.iter().map(|a| format!("{}-{} {}", a.group.as_str(), a.reason, a.amount.amount)).collect();
        assert_eq!(codes, ["CO-45 58.00", "PR-1 50.00", "PR-2 8.40", "CO-253 0.67"]);
        assert_eq!(result.status_code, "1");
        assert!(balances(&result));
    }

    #[test]
    fn earned_denials_fire_with_their_codes() {
        let mut profile = profile(PayerKind::Commercial);
        profile.params.p_claim_denied = Rate::ZERO;
        let mut claim = sample_claim(&ClaimShape::office_visit("70553", Decimal::new(90000, 2)), 2).unwrap();
        let result = adjudicate(&claim, &profile, &mut SimRng::new(1), on(&claim), "C".into());
        assert_eq!(result.denial, Some(DenialCause::Authorization));
        assert_eq!(result.status_code, "4");
        assert_eq!(result.lines[0].adjustments[0].reason, "197");
        claim.prior_authorization = Some("AUTH1".into());
        let late =
            Circumstances { received_on: claim.lines[0].service_date + chrono::Duration::days(91), duplicate: false };
        let result = adjudicate(&claim, &profile, &mut SimRng::new(1), late, "C".into());
        assert_eq!(result.denial, Some(DenialCause::TimelyFiling));
        let duplicate = Circumstances { duplicate: true, ..on(&claim) };
        let result = adjudicate(&claim, &profile, &mut SimRng::new(1), duplicate, "C".into());
        assert_eq!(
            (result.lines[0].adjustments[0].group, result.lines[0].adjustments[0].reason.as_str()),
            (AdjustmentGroup::OA, "18")
        );
    }

    #[test]
    fn bundled_pairs_deny_column_two_unless_modified() {
        let mut profile = profile(PayerKind::Commercial);
        profile.params.p_claim_denied = Rate::ZERO;
        let shape = ClaimShape {
            codes: vec![("99214", Decimal::new(20000, 2)), ("99211", Decimal::new(5000, 2))],
            ..ClaimShape::default()
        };
        let claim = sample_claim(&shape, 3).unwrap();
        let result = adjudicate(&claim, &profile, &mut SimRng::new(1), on(&claim), "C".into());
        assert_eq!(result.lines[1].denial, Some(DenialCause::Bundling));
        assert_eq!(result.lines[0].denial, None);
        assert_eq!(result.status_code, "1");
    }

    proptest! {
        #[test]
        fn every_line_balances_for_every_seed(seed in any::<u64>(), kind in 0usize..5, shape in 0usize..4) {
            let profile = profile(PayerKind::ALL[kind]);
            let claim = sample_claim(&ClaimShape::catalogue()[shape], seed).unwrap();
            let result = adjudicate(&claim, &profile, &mut SimRng::new(seed), on(&claim), "C".into());
            prop_assert!(balances(&result));
            prop_assert_eq!(result.charge(), claim.total_charge().amount);
            for line in &result.lines {
                prop_assert!(line.underpaid() >= Decimal::ZERO);
                prop_assert!(line.paid.scale() <= 2);
            }
            // Same seed, same answer.
            let again = adjudicate(&claim, &profile, &mut SimRng::new(seed), on(&claim), "C".into());
            prop_assert_eq!(result, again);
        }
    }
}
