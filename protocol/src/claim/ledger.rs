//! A claim's money, folded from its events. The open balance is derived, so
//! charge = paid + contractual + patient responsibility + other adjustments + written off
//! + open balance holds for every claim at every step (G7).

use super::adjustment::{Adjustment, LedgerBucket};
use super::command::RemittancePosting;
use crate::domain::ClaimLine;
use crate::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Money buckets in one currency.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buckets {
    pub paid: Decimal,
    pub contractual: Decimal,
    pub patient_responsibility: Decimal,
    pub other_adjustments: Decimal,
    /// Denial adjustments: informational, the amount stays in the open balance.
    pub denied: Decimal,
}

impl Buckets {
    fn add_adjustment(&mut self, adjustment: &Adjustment) {
        let amount = adjustment.amount.amount;
        match adjustment.bucket() {
            LedgerBucket::Contractual => self.contractual += amount,
            LedgerBucket::PatientResponsibility => self.patient_responsibility += amount,
            LedgerBucket::OtherAdjustment => self.other_adjustments += amount,
            LedgerBucket::Denied => self.denied += amount,
        }
    }

    /// Everything that settles the charge (denials do not).
    fn settled(&self) -> Decimal {
        self.paid + self.contractual + self.patient_responsibility + self.other_adjustments
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineLedger {
    pub line_number: u32,
    pub charge: Decimal,
    pub allowed: Option<Decimal>,
    pub buckets: Buckets,
}

impl LineLedger {
    pub fn open_balance(&self) -> Decimal {
        self.charge - self.buckets.settled()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimLedger {
    pub currency: Currency,
    pub charge: Decimal,
    /// Totals over every posting, claim- and line-level adjustments together.
    pub totals: Buckets,
    pub written_off: Decimal,
    pub lines: Vec<LineLedger>,
    /// Payments not allocated to a line (claim-level only postings, rounding by the payer).
    pub unallocated_paid: Decimal,
}

impl ClaimLedger {
    pub fn new(currency: Currency, lines: &[ClaimLine]) -> Self {
        let mut ledger = ClaimLedger {
            currency,
            charge: Decimal::ZERO,
            totals: Buckets::default(),
            written_off: Decimal::ZERO,
            lines: Vec::new(),
            unallocated_paid: Decimal::ZERO,
        };
        ledger.reset_lines(lines);
        ledger
    }

    /// New coding before any money moved: charges come from the lines.
    pub fn reset_lines(&mut self, lines: &[ClaimLine]) {
        self.lines = lines
            .iter()
            .map(|line| LineLedger {
                line_number: line.line_number,
                charge: line.charge.amount,
                allowed: None,
                buckets: Buckets::default(),
            })
            .collect();
        self.charge = self.lines.iter().map(|line| line.charge).sum();
    }

    pub fn post(&mut self, posting: &RemittancePosting) {
        self.totals.paid += posting.paid.amount;
        for adjustment in &posting.claim_adjustments {
            self.totals.add_adjustment(adjustment);
        }
        let mut allocated = Decimal::ZERO;
        for line_posting in &posting.lines {
            for adjustment in &line_posting.adjustments {
                self.totals.add_adjustment(adjustment);
            }
            if let Some(line) = self.lines.iter_mut().find(|line| line.line_number == line_posting.line_number) {
                line.buckets.paid += line_posting.paid.amount;
                allocated += line_posting.paid.amount;
                for adjustment in &line_posting.adjustments {
                    line.buckets.add_adjustment(adjustment);
                }
                if let Some(allowed) = line_posting.allowed {
                    line.allowed = Some(line.allowed.unwrap_or_default() + allowed.amount);
                }
            }
        }
        self.unallocated_paid += posting.paid.amount - allocated;
    }

    pub fn write_off(&mut self, amount: Decimal) {
        self.written_off += amount;
    }

    pub fn paid(&self) -> Money {
        Money::new(self.totals.paid, self.currency)
    }

    pub fn charge_money(&self) -> Money {
        Money::new(self.charge, self.currency)
    }

    /// What nobody has settled yet: the payer's open AR on this claim.
    pub fn open_balance(&self) -> Decimal {
        self.charge - self.totals.settled() - self.written_off
    }

    /// Allowed = charge − contractual (what the contract says the service is worth).
    pub fn allowed(&self) -> Decimal {
        self.charge - self.totals.contractual
    }

    /// G7, checked term by term against an independent sum of the lines.
    pub fn conservation_holds(&self) -> bool {
        let line_charge: Decimal = self.lines.iter().map(|line| line.charge).sum();
        let line_paid: Decimal = self.lines.iter().map(|line| line.buckets.paid).sum();
        let identity = self.charge
            == self.totals.paid
                + self.totals.contractual
                + self.totals.patient_responsibility
                + self.totals.other_adjustments
                + self.written_off
                + self.open_balance();
        identity && line_charge == self.charge && line_paid + self.unallocated_paid == self.totals.paid
    }
}

impl ClaimLedger {
    /// Corrected lines on appeal: money already posted stays on its line number; a line that
    /// disappears keeps its money with a zero charge, so nothing posted is lost.
    pub fn replace_lines(&mut self, lines: &[ClaimLine]) {
        let mut previous = std::mem::take(&mut self.lines);
        let mut next: Vec<LineLedger> = lines
            .iter()
            .map(|line| {
                let buckets_and_allowed = previous
                    .iter()
                    .position(|old| old.line_number == line.line_number)
                    .map(|index| previous.swap_remove(index));
                let (buckets, allowed) = buckets_and_allowed.map(|old| (old.buckets, old.allowed)).unwrap_or_default();
                LineLedger { line_number: line.line_number, charge: line.charge.amount, allowed, buckets }
            })
            .collect();
        for mut orphan in previous {
            if orphan.buckets != Buckets::default() {
                orphan.charge = Decimal::ZERO;
                next.push(orphan);
            }
        }
        self.lines = next;
        self.charge = self.lines.iter().map(|line| line.charge).sum();
    }
}
