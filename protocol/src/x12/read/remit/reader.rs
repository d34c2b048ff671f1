//! The 835 reader: a state machine fed the segments of one ST…SE. It hands back each claim as
//! soon as its loop closes, so a caller can stream claims out of an arbitrarily large
//! remittance while the header, PLB and running totals stay here for the balance check.

use super::balance::{check_claim, unbalanced};
use super::model::{
    Adjudication, Adjustment, ClaimPayment, Dated, Name, PositionedValue, ProviderAdjustment, Quantified, Reference,
    Remittance, ServicePayment,
};
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind, Position};
use crate::x12::read::elements::{
    amount, components, invalid, missing, procedure, required_amount, required_text, text,
};
use crate::x12::segment::Segment;
use rust_decimal::Decimal;

#[derive(Clone, Copy, PartialEq, Eq)]
enum PartyLoop {
    None,
    Payer,
    Payee,
}

/// Reads one 835 transaction set segment by segment.
pub struct RemittanceReader {
    remittance: Remittance,
    party: PartyLoop,
    claim: Option<(ClaimPayment, ClaimAt)>,
    service: Option<ServicePayment>,
    all_claims_balanced: bool,
    bpr_position: Option<Position>,
}

impl Default for RemittanceReader {
    fn default() -> Self {
        Self::new()
    }
}

impl RemittanceReader {
    pub fn new() -> Self {
        Self {
            remittance: Remittance::default(),
            party: PartyLoop::None,
            claim: None,
            service: None,
            all_claims_balanced: true,
            bpr_position: None,
        }
    }

    /// Reads one segment between ST and SE. Returns a claim whose loop this segment closed.
    pub fn segment(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> Option<ClaimPayment> {
        match segment.id() {
            b"BPR" => self.bpr(segment, diagnostics),
            b"TRN" => {
                self.remittance.payment.trace_number =
                    Some(required_text(segment, 2, "TRN02 trace number", diagnostics));
                self.remittance.payment.originator = text(segment, 3);
            }
            b"DTM" => self.dtm(segment, diagnostics),
            b"REF" => self.reference(segment, diagnostics),
            b"N1" => {
                let closed = self.close_claim(diagnostics);
                self.n1(segment, diagnostics);
                return closed;
            }
            b"CUR" | b"N2" | b"N3" | b"N4" | b"PER" | b"RDM" | b"TS3" | b"TS2" => {}
            b"LX" => return self.close_claim(diagnostics),
            b"CLP" => {
                let closed = self.close_claim(diagnostics);
                self.clp(segment, diagnostics);
                return closed;
            }
            b"CAS" => self.cas(segment, diagnostics),
            b"NM1" => self.nm1(segment, diagnostics),
            b"MIA" => {
                if let Some((claim, _)) = self.claim_or_report(segment, diagnostics) {
                    claim.inpatient = Some(adjudication(segment, &[5, 20, 21, 22, 23]));
                }
            }
            b"MOA" => {
                if let Some((claim, _)) = self.claim_or_report(segment, diagnostics) {
                    claim.outpatient = Some(adjudication(segment, &[3, 4, 5, 6, 7]));
                }
            }
            b"AMT" | b"QTY" => self.quantity(segment, diagnostics),
            b"SVC" => self.svc(segment, diagnostics),
            b"LQ" => match &mut self.service {
                Some(service) => service.remarks.push(reference(segment, diagnostics)),
                None => diagnostics.push(unexpected(segment, "LQ inside an SVC loop")),
            },
            b"PLB" => {
                let closed = self.close_claim(diagnostics);
                self.plb(segment, diagnostics);
                return closed;
            }
            _ => diagnostics.push(Diagnostic::error(
                segment.position(),
                DiagnosticKind::UnknownSegment { id: segment.id_text(), set: "835".to_string() },
            )),
        }
        None
    }

    /// Closes the transaction at SE (or wherever it ended): returns the remittance (without
    /// claims: the caller collected them) and the last claim, and checks BPR02.
    pub fn finish(mut self, end: &Position, diagnostics: &mut Vec<Diagnostic>) -> (Remittance, Option<ClaimPayment>) {
        let last = self.close_claim(diagnostics);
        let totals = &mut self.remittance.totals;
        totals.expected_payment = totals.paid - totals.provider_adjustments;
        let payment_balances = self.remittance.payment.amount == totals.expected_payment;
        match &self.bpr_position {
            Some(at) if !payment_balances => diagnostics.push(unbalanced(
                at,
                "BPR02 = ΣCLP04 − ΣPLB".to_string(),
                totals.expected_payment,
                self.remittance.payment.amount,
            )),
            Some(_) => {}
            None => diagnostics.push(Diagnostic::error(
                end.clone(),
                DiagnosticKind::MissingSegment { expected: "BPR in the 835 header".to_string() },
            )),
        }
        self.remittance.balanced = payment_balances && self.all_claims_balanced && self.bpr_position.is_some();
        (self.remittance, last)
    }

    fn bpr(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let payment = &mut self.remittance.payment;
        payment.handling = required_text(segment, 1, "BPR01 transaction handling code", diagnostics);
        payment.amount = required_amount(segment, 2, "BPR02 total provider payment", diagnostics);
        payment.credit_debit = required_text(segment, 3, "BPR03 credit/debit flag", diagnostics);
        payment.method = required_text(segment, 4, "BPR04 payment method", diagnostics);
        payment.format = text(segment, 5);
        payment.date = text(segment, 16);
        self.bpr_position = Some(segment.position());
    }

    fn dtm(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let dated = Dated {
            qualifier: required_text(segment, 1, "DTM01 date qualifier", diagnostics),
            date: required_text(segment, 2, "DTM02 date", diagnostics),
        };
        if let Some(service) = &mut self.service {
            service.dates.push(dated);
        } else if let Some((claim, _)) = &mut self.claim {
            claim.dates.push(dated);
        } else if dated.qualifier == "405" {
            self.remittance.production_date = Some(dated.date);
        } else {
            diagnostics.push(unexpected(segment, "DTM*405 in the header, or DTM in a claim or service loop"));
        }
    }

    fn reference(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let reference = reference(segment, diagnostics);
        if let Some(service) = &mut self.service {
            if reference.qualifier == "6R" {
                service.line_item_control_number = Some(reference.value.clone());
            }
            service.references.push(reference);
        } else if let Some((claim, _)) = &mut self.claim {
            claim.references.push(reference);
        } else {
            match self.party {
                PartyLoop::Payer => self.remittance.payer.references.push(reference),
                PartyLoop::Payee => self.remittance.payee.references.push(reference),
                PartyLoop::None => self.remittance.references.push(reference),
            }
        }
    }

    fn n1(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let party = match segment.element(1) {
            b"PR" => {
                self.party = PartyLoop::Payer;
                &mut self.remittance.payer
            }
            b"PE" => {
                self.party = PartyLoop::Payee;
                &mut self.remittance.payee
            }
            _ => {
                diagnostics.push(invalid(segment, 1, "N101 PR (payer) or PE (payee)"));
                return;
            }
        };
        party.name = text(segment, 2);
        party.id_qualifier = text(segment, 3);
        party.id = text(segment, 4);
    }

    fn clp(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let status = required_text(segment, 2, "CLP02 claim status code", diagnostics);
        let claim = ClaimPayment {
            patient_control_number: required_text(segment, 1, "CLP01 patient control number", diagnostics),
            reversal: status == "22",
            status,
            charge: required_amount(segment, 3, "CLP03 total claim charge", diagnostics),
            paid: required_amount(segment, 4, "CLP04 claim payment amount", diagnostics),
            patient_responsibility: amount(segment, 5, "CLP05 patient responsibility amount", diagnostics),
            filing_indicator: text(segment, 6),
            payer_claim_control_number: text(segment, 7),
            facility_type: text(segment, 8),
            frequency: text(segment, 9),
            ..ClaimPayment::default()
        };
        self.claim = Some((claim, ClaimAt { segment: segment.number(), offset: segment.offset() }));
    }

    fn cas(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let target = if let Some(service) = &mut self.service {
            &mut service.adjustments
        } else if let Some((claim, _)) = &mut self.claim {
            &mut claim.adjustments
        } else {
            diagnostics.push(unexpected(segment, "CAS inside a CLP or SVC loop"));
            return;
        };
        let group = required_text(segment, 1, "CAS01 claim adjustment group code", diagnostics);
        let before = target.len();
        for triplet in 0..6 {
            let first = 2 + triplet * 3;
            let Some(reason) = text(segment, first) else {
                if !segment.element(first + 1).is_empty() {
                    diagnostics.push(missing(segment, first, "adjustment reason code"));
                }
                continue;
            };
            target.push(Adjustment {
                group: group.clone(),
                reason,
                amount: required_amount(segment, first + 1, "adjustment amount", diagnostics),
                quantity: amount(segment, first + 2, "adjustment quantity", diagnostics),
            });
        }
        if target.len() == before {
            diagnostics.push(missing(segment, 2, "CAS02 adjustment reason code"));
        }
    }

    fn nm1(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        if self.service.is_some() {
            diagnostics.push(unexpected(segment, "NM1 in the claim loop before any SVC"));
            return;
        }
        let Some((claim, _)) = self.claim_or_report(segment, diagnostics) else { return };
        let name = Name {
            entity: text(segment, 1).unwrap_or_default(),
            last_or_organization: text(segment, 3),
            first: text(segment, 4),
            middle: text(segment, 5),
            suffix: text(segment, 7),
            id_qualifier: text(segment, 8),
            id: text(segment, 9),
        };
        match name.entity.as_bytes() {
            b"QC" => claim.patient = Some(name),
            b"IL" => claim.insured = Some(name),
            b"74" => claim.corrected = Some(name),
            _ => claim.other_names.push(name),
        }
    }

    fn quantity(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let is_amount = segment.is(b"AMT");
        let value = Quantified {
            qualifier: required_text(segment, 1, "qualifier", diagnostics),
            value: required_amount(segment, 2, if is_amount { "AMT02 amount" } else { "QTY02 quantity" }, diagnostics),
        };
        let target = if let Some(service) = &mut self.service {
            if is_amount {
                &mut service.amounts
            } else {
                &mut service.quantities
            }
        } else if let Some((claim, _)) = &mut self.claim {
            if is_amount {
                &mut claim.amounts
            } else {
                &mut claim.quantities
            }
        } else {
            diagnostics.push(unexpected(segment, "AMT/QTY inside a CLP or SVC loop"));
            return;
        };
        target.push(value);
    }

    fn svc(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        if self.claim.is_none() {
            diagnostics.push(unexpected(segment, "CLP before SVC"));
            return;
        }
        self.close_service();
        let detail = procedure(segment, 1, diagnostics).unwrap_or_else(|| {
            diagnostics.push(missing(segment, 1, "SVC01 composite procedure"));
            Default::default()
        });
        self.service = Some(ServicePayment {
            procedure: detail.code,
            modifiers: detail.modifiers,
            procedure_qualifier: detail.qualifier,
            procedure_description: detail.description,
            charge: required_amount(segment, 2, "SVC02 line item charge", diagnostics),
            paid: required_amount(segment, 3, "SVC03 line item payment", diagnostics),
            revenue_code: text(segment, 4),
            units: amount(segment, 5, "SVC05 units of service paid", diagnostics).unwrap_or(Decimal::ONE),
            original_procedure: procedure(segment, 6, diagnostics),
            original_units: amount(segment, 7, "SVC07 original units of service", diagnostics),
            ..ServicePayment::default()
        });
    }

    fn plb(&mut self, segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) {
        let provider_id = required_text(segment, 1, "PLB01 provider identifier", diagnostics);
        let fiscal_period_date = required_text(segment, 2, "PLB02 fiscal period date", diagnostics);
        let mut pairs = 0;
        for pair in 0..6 {
            let first = 3 + pair * 2;
            if segment.element(first).is_empty() && segment.element(first + 1).is_empty() {
                continue;
            }
            let parts = components(segment, first);
            let reason = parts.first().cloned().unwrap_or_default();
            if reason.is_empty() {
                diagnostics.push(missing(segment, first, "PLB adjustment reason code"));
            }
            let amount = required_amount(segment, first + 1, "PLB provider adjustment amount", diagnostics);
            self.remittance.totals.provider_adjustments += amount;
            self.remittance.provider_adjustments.push(ProviderAdjustment {
                provider_id: provider_id.clone(),
                fiscal_period_date: fiscal_period_date.clone(),
                reason,
                reference: parts.get(1).filter(|value| !value.is_empty()).cloned(),
                amount,
            });
            pairs += 1;
        }
        if pairs == 0 {
            diagnostics.push(missing(segment, 3, "PLB03 adjustment identifier"));
        }
    }

    fn close_service(&mut self) {
        if let (Some(service), Some((claim, _))) = (self.service.take(), &mut self.claim) {
            claim.services.push(service);
        }
    }

    fn close_claim(&mut self, diagnostics: &mut Vec<Diagnostic>) -> Option<ClaimPayment> {
        self.close_service();
        let (mut claim, at) = self.claim.take()?;
        check_claim(&mut claim, || at.position(), diagnostics);
        let totals = &mut self.remittance.totals;
        totals.claims += 1;
        totals.charge += claim.charge;
        totals.paid += claim.paid;
        self.all_claims_balanced &= claim.balanced;
        Some(claim)
    }

    fn claim_or_report(
        &mut self,
        segment: &Segment<'_>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<&mut (ClaimPayment, ClaimAt)> {
        if self.claim.is_none() {
            diagnostics.push(unexpected(segment, "a CLP loop"));
        }
        self.claim.as_mut()
    }
}

/// Where a CLP was, kept without allocating until a diagnostic needs it.
#[derive(Clone, Copy)]
struct ClaimAt {
    segment: u64,
    offset: u64,
}

impl ClaimAt {
    fn position(self) -> Position {
        Position {
            segment: self.segment,
            offset: self.offset,
            segment_id: "CLP".to_string(),
            element: None,
            component: None,
        }
    }
}

fn reference(segment: &Segment<'_>, diagnostics: &mut Vec<Diagnostic>) -> Reference {
    Reference {
        qualifier: required_text(segment, 1, "reference qualifier", diagnostics),
        value: required_text(segment, 2, "reference value", diagnostics),
    }
}

fn adjudication(segment: &Segment<'_>, remark_positions: &[usize]) -> Adjudication {
    let mut result = Adjudication::default();
    for position in 1..=segment.element_count() {
        let Some(value) = text(segment, position) else { continue };
        if remark_positions.contains(&position) {
            result.remarks.push(value);
        } else {
            result.elements.push(PositionedValue { position: position as u16, value });
        }
    }
    result
}

fn unexpected(segment: &Segment<'_>, expected: &str) -> Diagnostic {
    Diagnostic::error(
        segment.position(),
        DiagnosticKind::UnexpectedSegment { expected: expected.to_string(), found: segment.id_text() },
    )
}
