//! Payer profiles: a contract fee schedule and the adjudication parameters of REALISM.md §10
//! (denial rates and reason mix by payer type, front-end rejections, patient share, timing,
//! underpayments, reversals, PLB). Every default names its source row in REALISM.md; values
//! marked [A] there are assumptions, calibrated on the sources it cites.

use practice_protocol::ids::PayerId;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A probability in parts per million: exact, and no float ever drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rate(u32);

impl Rate {
    pub const SCALE: u64 = 1_000_000;
    pub const ZERO: Rate = Rate(0);

    pub const fn from_ppm(ppm: u32) -> Rate {
        Rate(if ppm > 1_000_000 { 1_000_000 } else { ppm })
    }

    /// From a decimal fraction such as 0.07; None outside [0, 1] or finer than 1 ppm.
    pub fn from_fraction(fraction: Decimal) -> Option<Rate> {
        use rust_decimal::prelude::ToPrimitive;
        let ppm = fraction * Decimal::from(1_000_000);
        if ppm < Decimal::ZERO || ppm > Decimal::from(1_000_000) || ppm.fract() != Decimal::ZERO {
            return None;
        }
        ppm.to_u32().map(Rate)
    }

    pub fn ppm(self) -> u32 {
        self.0
    }
}

/// The payer types REALISM.md calibrates separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayerKind {
    MedicareFfs,
    MedicareAdvantage,
    Commercial,
    MedicaidManaged,
    MedicaidFfs,
}

impl PayerKind {
    pub const ALL: [PayerKind; 5] = [
        PayerKind::MedicareFfs,
        PayerKind::MedicareAdvantage,
        PayerKind::Commercial,
        PayerKind::MedicaidManaged,
        PayerKind::MedicaidFfs,
    ];

    fn column(self) -> usize {
        self as usize
    }

    /// SBR09 claim filing indicator our claims carry for this payer type.
    pub fn filing_indicator(self) -> &'static str {
        match self {
            PayerKind::MedicareFfs => "MB",
            PayerKind::MedicareAdvantage => "16",
            PayerKind::Commercial => "CI",
            PayerKind::MedicaidManaged => "HM",
            PayerKind::MedicaidFfs => "MC",
        }
    }
}

/// Why the payer denies, the rows of REALISM.md §10 `reason_mix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialCause {
    Eligibility,
    WrongContractor,
    CobTpl,
    MissingInfo,
    Authorization,
    RecordsRfi,
    MedicalNecessity,
    NotCovered,
    Bundling,
    ModifierCode,
    TimelyFiling,
    Duplicate,
    ProviderNetwork,
}

impl DenialCause {
    pub const ALL: [DenialCause; 13] = [
        DenialCause::Eligibility,
        DenialCause::WrongContractor,
        DenialCause::CobTpl,
        DenialCause::MissingInfo,
        DenialCause::Authorization,
        DenialCause::RecordsRfi,
        DenialCause::MedicalNecessity,
        DenialCause::NotCovered,
        DenialCause::Bundling,
        DenialCause::ModifierCode,
        DenialCause::TimelyFiling,
        DenialCause::Duplicate,
        DenialCause::ProviderNetwork,
    ];

    /// Does the cause apply to the whole claim by nature (coverage, filing, duplicates)?
    pub fn whole_claim(self) -> bool {
        matches!(
            self,
            DenialCause::Eligibility
                | DenialCause::WrongContractor
                | DenialCause::CobTpl
                | DenialCause::TimelyFiling
                | DenialCause::Duplicate
                | DenialCause::ProviderNetwork
        )
    }

    /// (group, CARC, RARC pool) per REALISM.md §2e; the simulator picks one RARC of the pool.
    pub fn codes(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            DenialCause::Eligibility => ("CO", "27", &["N30"]),
            DenialCause::WrongContractor => ("CO", "109", &["N104", "N418"]),
            DenialCause::CobTpl => ("CO", "22", &["MA04", "N479"]),
            DenialCause::MissingInfo => ("CO", "16", &["M51", "M76", "N290", "N265", "MA120"]),
            DenialCause::Authorization => ("CO", "197", &["N54", "M62"]),
            DenialCause::RecordsRfi => ("CO", "252", &["N706", "M127"]),
            DenialCause::MedicalNecessity => ("CO", "50", &["N115", "N386", "N661"]),
            DenialCause::NotCovered => ("CO", "96", &["N130", "N425"]),
            DenialCause::Bundling => ("CO", "97", &["M15", "M80", "N20"]),
            DenialCause::ModifierCode => ("CO", "4", &["N519", "N822"]),
            DenialCause::TimelyFiling => ("CO", "29", &["N211"]),
            // The X12 usage note puts duplicates under OA (REALISM.md §2e).
            DenialCause::Duplicate => ("OA", "18", &[]),
            DenialCause::ProviderNetwork => ("CO", "242", &["N570"]),
        }
    }
}

/// REALISM.md §10 reason_mix, in ppm of denials; columns MedicareFfs, MA, commercial,
/// Medicaid managed, Medicaid FFS. Rows follow `DenialCause::ALL`.
const REASON_MIX: [[u32; 5]; 13] = [
    [60_000, 150_000, 200_000, 250_000, 280_000],
    [140_000, 0, 0, 0, 0],
    [60_000, 50_000, 70_000, 120_000, 140_000],
    [40_000, 140_000, 170_000, 160_000, 200_000],
    [0, 160_000, 120_000, 120_000, 60_000],
    [0, 120_000, 90_000, 40_000, 0],
    [120_000, 100_000, 70_000, 30_000, 20_000],
    [80_000, 60_000, 100_000, 60_000, 60_000],
    [190_000, 80_000, 50_000, 40_000, 30_000],
    [40_000, 40_000, 30_000, 30_000, 30_000],
    [20_000, 40_000, 50_000, 60_000, 60_000],
    [220_000, 40_000, 30_000, 30_000, 40_000],
    [30_000, 20_000, 20_000, 60_000, 80_000],
];

/// Everything random about one payer's behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjudicationParams {
    /// 277CA rejection per claim (REALISM §10 front_end.p_277ca_reject) [A].
    pub p_277ca_reject: Rate,
    /// A whole 837 functional group rejected by a 999 (front_end.p_999_group_reject) [A].
    pub p_999_group_reject: Rate,
    /// At least one line denied on first pass (adjudication.p_claim_denied).
    pub p_claim_denied: Rate,
    /// Given a denial, the whole claim rather than one line [A].
    pub p_whole_claim_given_denied: Rate,
    /// Weights of the random causes, in `DenialCause::ALL` order. Timely filing and
    /// duplicates also fire for real when the claim earns them.
    pub reason_mix: Vec<u32>,
    /// A paid line allowed below contract without saying so (REALISM §6: 2–13% of lines
    /// mismatched commercially, 0.5% Medicare).
    pub p_silent_underpayment: Rate,
    /// How far below contract an underpaid line is allowed, per mille.
    pub underpayment_per_mille: (i64, i64),
    /// Patient share (REALISM §7): chance a deductible is still open and its size.
    pub p_deductible_open: Rate,
    pub deductible_range: (Decimal, Decimal),
    /// Coinsurance share of the allowed amount after deductible and copay.
    pub coinsurance: Decimal,
    /// Copay on evaluation-and-management claims, and how often the plan has one.
    pub p_copay: Rate,
    pub copay: Decimal,
    /// Medicare sequestration (REALISM §9: 2% of the payer's payment, CO-253).
    pub sequestration: Decimal,
    /// Days from receipt to the 835 (REALISM §5).
    pub payment_days: (i64, i64),
    /// Days from receipt to the 277CA (front_end.latency_days.ack_277ca).
    pub ack_277ca_days: (i64, i64),
    /// Payment later than this owes interest (prompt-pay), paid as PLB L6.
    pub interest_after_days: i64,
    /// Annual interest rate on late payments [A].
    pub interest_rate: Decimal,
    /// A paid claim later reversed and corrected (CLP02 = 22, then a new CLP) [A].
    pub p_reversal: Rate,
    /// A paid claim later partly recouped through PLB WO in a subsequent 835 [A].
    pub p_recoupment: Rate,
    /// The payer rewrites the code it paid (SVC06 carries ours) or drops a modifier, or omits
    /// REF*6R: the matcher must survive all three [A].
    pub p_code_rewrite: Rate,
    pub p_drop_modifier: Rate,
    pub p_omit_line_control: Rate,
    pub filing_limit_days: u32,
}

impl AdjudicationParams {
    pub fn defaults(kind: PayerKind) -> AdjudicationParams {
        let c = kind.column();
        let pick = |values: [u32; 5]| Rate::from_ppm(values[c]);
        let dec = |units: i64, scale: u32| Decimal::new(units, scale);
        let medicare = kind == PayerKind::MedicareFfs;
        let medicaid = matches!(kind, PayerKind::MedicaidManaged | PayerKind::MedicaidFfs);
        AdjudicationParams {
            p_277ca_reject: pick([30_000, 40_000, 40_000, 50_000, 60_000]),
            p_999_group_reject: Rate::from_ppm(5_000),
            p_claim_denied: pick([70_000, 90_000, 70_000, 130_000, 250_000]),
            p_whole_claim_given_denied: Rate::from_ppm(500_000),
            reason_mix: REASON_MIX.iter().map(|row| row[c]).collect(),
            p_silent_underpayment: pick([5_000, 40_000, 60_000, 50_000, 30_000]),
            underpayment_per_mille: (30, 120),
            p_deductible_open: pick([150_000, 100_000, 300_000, 0, 0]),
            deductible_range: match kind {
                PayerKind::MedicareFfs => (dec(2000, 2), dec(25700, 2)),
                PayerKind::Commercial => (dec(5000, 2), dec(178700, 2)),
                _ => (dec(0, 2), dec(50000, 2)),
            },
            coinsurance: match kind {
                PayerKind::MedicareFfs => dec(20, 2),
                PayerKind::Commercial => dec(20, 2),
                _ => Decimal::ZERO,
            },
            p_copay: pick([0, 700_000, 600_000, 300_000, 200_000]),
            copay: match kind {
                PayerKind::MedicareAdvantage => dec(2000, 2),
                PayerKind::Commercial => dec(2500, 2),
                _ => dec(300, 2),
            },
            sequestration: if medicare { dec(2, 2) } else { Decimal::ZERO },
            payment_days: match kind {
                PayerKind::MedicareFfs => (14, 30),
                PayerKind::MedicareAdvantage => (10, 35),
                PayerKind::Commercial => (7, 30),
                PayerKind::MedicaidManaged => (14, 45),
                PayerKind::MedicaidFfs => (14, 90),
            },
            ack_277ca_days: (1, 3),
            interest_after_days: 30,
            interest_rate: dec(12, 2),
            p_reversal: Rate::from_ppm(10_000),
            p_recoupment: Rate::from_ppm(5_000),
            p_code_rewrite: Rate::from_ppm(20_000),
            p_drop_modifier: Rate::from_ppm(30_000),
            p_omit_line_control: Rate::from_ppm(50_000),
            filing_limit_days: if medicare || medicaid || kind == PayerKind::MedicareAdvantage { 365 } else { 90 },
        }
    }
}

/// A contract fee schedule: the allowed amount per unit by procedure code, a fallback share
/// of the charge for codes it does not list, and the payer's modifier pricing rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub fees: BTreeMap<String, Decimal>,
    /// Allowed = this share of the charge for a code without a fee.
    pub unlisted_share_of_charge: Decimal,
}

/// Medicare-like 2026 national amounts for common office codes [A: rounded illustrative
/// figures, not the published MPFS].
const BASE_FEES: [(&str, i64); 16] = [
    ("99202", 7300),
    ("99203", 11200),
    ("99204", 16800),
    ("99212", 5700),
    ("99213", 9200),
    ("99214", 13000),
    ("99215", 18300),
    ("99396", 12500),
    ("G0439", 13400),
    ("36415", 300),
    ("80053", 1100),
    ("85025", 800),
    ("93000", 1700),
    ("20610", 6200),
    ("97110", 2900),
    ("96372", 1500),
];

impl FeeSchedule {
    /// The base fees scaled by `percent_of_base` (Medicare 100, commercial ~125, Medicaid ~70).
    pub fn scaled(percent_of_base: i64, unlisted_share_of_charge: Decimal) -> FeeSchedule {
        let fees = BASE_FEES
            .iter()
            .map(|(code, cents)| {
                let fee = (Decimal::new(*cents, 2) * Decimal::new(percent_of_base, 2)).round_dp(2);
                (code.to_string(), fee)
            })
            .collect();
        FeeSchedule { fees, unlisted_share_of_charge }
    }

    pub fn defaults(kind: PayerKind) -> FeeSchedule {
        match kind {
            PayerKind::MedicareFfs => FeeSchedule::scaled(100, Decimal::new(45, 2)),
            PayerKind::MedicareAdvantage => FeeSchedule::scaled(102, Decimal::new(45, 2)),
            PayerKind::Commercial => FeeSchedule::scaled(128, Decimal::new(60, 2)),
            PayerKind::MedicaidManaged => FeeSchedule::scaled(75, Decimal::new(35, 2)),
            PayerKind::MedicaidFfs => FeeSchedule::scaled(68, Decimal::new(32, 2)),
        }
    }

    /// The contract's allowed amount for one line, never above its charge: fee × units with
    /// the modifier adjustments of REALISM §9 (50 bilateral 150%, 80/81/82 assistant 16%,
    /// AS 13.6%, 62 co-surgeon 62.5%, 26 professional component 40% [A]).
    pub fn allowed(&self, procedure: &str, modifiers: &[&str], units: Decimal, charge: Decimal) -> Decimal {
        let base = match self.fees.get(procedure) {
            Some(fee) => *fee * units,
            None => charge * self.unlisted_share_of_charge,
        };
        let factor = modifiers.iter().fold(Decimal::ONE, |factor, modifier| {
            factor
                * match *modifier {
                    "50" => Decimal::new(150, 2),
                    "80" | "81" | "82" => Decimal::new(16, 2),
                    "AS" => Decimal::new(136, 3),
                    "62" => Decimal::new(625, 3),
                    "26" => Decimal::new(40, 2),
                    _ => Decimal::ONE,
                }
        });
        cents(base * factor).min(charge)
    }
}

/// Round to cents, half away from zero (how payers print money).
pub fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// One simulated payer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerProfile {
    pub payer_id: PayerId,
    pub name: String,
    pub kind: PayerKind,
    pub fees: FeeSchedule,
    pub params: AdjudicationParams,
    /// Codes the payer pays only with a prior authorization (a missing one → CO-197).
    pub auth_required: Vec<String>,
    /// (column 1, column 2) pairs: column 2 is bundled into column 1 on the same day (CO-97)
    /// unless it carries 59 or an X modifier.
    pub bundled_pairs: Vec<(String, String)>,
}

impl PayerProfile {
    pub fn new(payer_id: PayerId, name: &str, kind: PayerKind) -> PayerProfile {
        PayerProfile {
            payer_id,
            name: name.to_string(),
            kind,
            fees: FeeSchedule::defaults(kind),
            params: AdjudicationParams::defaults(kind),
            auth_required: vec!["70553".into(), "72148".into(), "73721".into()],
            bundled_pairs: vec![("99214".into(), "99211".into()), ("20610".into(), "20611".into())],
        }
    }
}

/// The demo's five payers (`practice demo`, and `practice sim` without `--payers`): Medicare
/// Part B, two commercial plans, a Medicaid MCO and a Medicare Advantage plan.
pub fn demo_payers() -> Vec<PayerProfile> {
    let plans = [
        ("00430", "Medicare Part B (demo)", PayerKind::MedicareFfs),
        ("87726", "Acme Commercial (demo)", PayerKind::Commercial),
        ("60054", "Bluebonnet PPO (demo)", PayerKind::Commercial),
        ("MCD01", "State Medicaid MCO (demo)", PayerKind::MedicaidManaged),
        ("MA777", "Medicare Advantage (demo)", PayerKind::MedicareAdvantage),
    ];
    plans
        .iter()
        .filter_map(|(id, name, kind)| PayerId::parse(id).ok().map(|payer_id| PayerProfile::new(payer_id, name, *kind)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn reason_mix_columns_sum_to_one() {
        for kind in PayerKind::ALL {
            let params = AdjudicationParams::defaults(kind);
            assert_eq!(params.reason_mix.iter().sum::<u32>(), 1_000_000, "{kind:?}");
            assert_eq!(params.reason_mix.len(), DenialCause::ALL.len());
        }
    }

    #[test]
    fn rates_from_fractions_are_exact() {
        assert_eq!(Rate::from_fraction(dec!(0.07)), Some(Rate::from_ppm(70_000)));
        assert_eq!(Rate::from_fraction(dec!(1)), Some(Rate::from_ppm(1_000_000)));
        assert_eq!(Rate::from_fraction(dec!(1.01)), None);
        assert_eq!(Rate::from_fraction(dec!(-0.1)), None);
        assert_eq!(Rate::from_fraction(dec!(0.0000001)), None);
    }

    #[test]
    fn allowed_amounts_follow_the_contract() {
        let medicare = FeeSchedule::defaults(PayerKind::MedicareFfs);
        assert_eq!(medicare.allowed("99213", &[], dec!(1), dec!(150)), dec!(92.00));
        assert_eq!(medicare.allowed("99213", &[], dec!(1), dec!(50)), dec!(50), "never above the charge");
        assert_eq!(medicare.allowed("20610", &["50"], dec!(1), dec!(500)), dec!(93.00));
        assert_eq!(medicare.allowed("97110", &[], dec!(3), dec!(300)), dec!(87.00));
        assert_eq!(medicare.allowed("11111", &[], dec!(1), dec!(100.01)), dec!(45.00), "45% of 100.01 = 45.0045");
        let commercial = FeeSchedule::defaults(PayerKind::Commercial);
        assert_eq!(commercial.allowed("99213", &[], dec!(1), dec!(200)), dec!(117.76));
    }
}
