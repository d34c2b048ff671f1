//! The demo's summary: computed from the claims' own state (the fold of their events), then
//! checked against the simulator's ground truth to the cent. Printed as text, written as JSON.

// Rates and latencies are measurements, not money: floats are right for them alone.
#![allow(clippy::float_arithmetic)]

use super::flow::DemoRun;
use super::latency::LatencyLog;
use crate::cli::embedded::Latencies;
use chrono::Utc;
use practice_actors::billing::{aging, build_statements, patient_charges, payer_items, AgingBucket, BucketTotals};
use practice_nodes::sim::GroundTruth;
use practice_protocol::claim::ClaimState;
use practice_protocol::ids::UserId;
use practice_protocol::practice::PracticeState;
use practice_protocol::Currency;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Counters the flow keeps as it goes.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub scrub_failures: u64,
    pub files_837: u64,
    pub bytes_837: u64,
    pub acks_999: u64,
    pub acks_277ca: u64,
    pub files_277ca: u64,
    pub front_end_rejections: u64,
    /// Claims a 999 returned to Draft (their set or group was rejected).
    pub syntax_rejections: u64,
    pub remittances: u64,
    pub postings: u64,
    pub events_posted: u64,
    pub appeals: u64,
    pub write_offs: u64,
    pub reingested_events: u64,
    pub simulated_days: i64,
    pub secondary_claims: u64,
    pub inbound_rejected: u64,
    /// 276 files sent, claims asked about, and 277 statuses recorded in claim histories.
    pub status_requests: u64,
    pub status_claims: u64,
    pub status_recorded: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Money {
    pub charge: Decimal,
    pub paid: Decimal,
    pub contractual: Decimal,
    pub patient_responsibility: Decimal,
    pub other_adjustments: Decimal,
    pub written_off: Decimal,
    pub open: Decimal,
}

#[derive(Clone, Debug, Serialize)]
pub struct GroundTruthCheck {
    pub posted_paid: Decimal,
    pub truth_paid: Decimal,
    pub posted_patient_responsibility: Decimal,
    pub truth_patient_responsibility: Decimal,
    pub claims_mismatched: u64,
    pub exact: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DemoSummary {
    /// The practice (organization id) the run billed as, and its number on this journal: a
    /// journal that already held an earlier run's practice gets the next one.
    pub practice_org: String,
    pub practice_number: u32,
    /// Every claim: one per encounter plus the secondary claims built by COB.
    pub claims: u64,
    pub secondary_claims: u64,
    /// 835 files the X12 reader refused (left in the inbox for a person).
    pub inbound_rejected: u64,
    pub by_status: BTreeMap<String, u64>,
    pub money: Money,
    /// Claims whose ledger breaks G7 (must be 0).
    pub conservation_violations: u64,
    pub ground_truth: GroundTruthCheck,
    pub denials_by_carc: BTreeMap<String, u64>,
    pub denials_by_category: BTreeMap<String, u64>,
    /// Open suspense items journaled on the practice.
    pub suspense_items: u64,
    /// PLB entries journaled on the practice, and their totals by reason (835 sign).
    pub provider_adjustments: u64,
    pub plb_by_reason: BTreeMap<String, Decimal>,
    pub plb_total: Decimal,
    pub appeals: u64,
    pub write_offs: u64,
    pub scrub_failures: u64,
    pub front_end_rejections: u64,
    /// Claims a 999 returned to Draft.
    pub syntax_rejections: u64,
    pub files: BTreeMap<String, u64>,
    /// Events posted when every 835 was ingested a second time (must be 0).
    pub reingested_events: u64,
    pub aging_insurance: Vec<(String, Decimal)>,
    pub aging_by_payer: BTreeMap<String, Vec<(String, Decimal)>>,
    pub statements: u64,
    pub statements_total_due: Decimal,
    pub simulated_days: i64,
    pub elapsed_seconds: f64,
    pub claims_per_second: f64,
    /// Wall-clock seconds per stage (the first day, the simulated days, the checks), in order.
    pub stage_seconds: Vec<(String, f64)>,
    /// Wall clock from a claim's submission to its posted payment: the simulated days between
    /// take no time, but the work done meanwhile on every other claim does.
    pub settle_p50_ms: f64,
    pub settle_p99_ms: f64,
    /// The claim's own two legs, the simulated days between them excluded: its submission (the
    /// day's submission run starting to its 837 written) plus its posting (the day's 835s
    /// arriving to its payment posted).
    pub processing_p50_ms: f64,
    pub processing_p99_ms: f64,
    pub data_dir: String,
}

/// Buckets in their natural order (0–30 first), as (label, amount) pairs.
fn buckets(totals: &BucketTotals) -> Vec<(String, Decimal)> {
    AgingBucket::ALL.iter().map(|bucket| (bucket.label().to_string(), totals.get(*bucket))).collect()
}

impl DemoSummary {
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        states: &[ClaimState],
        practice: &PracticeState,
        tally: &Tally,
        truth: &GroundTruth,
        demo: &DemoRun,
        latency: &LatencyLog,
        data_dir: &Path,
    ) -> anyhow::Result<DemoSummary> {
        let mut by_status = BTreeMap::new();
        let mut money = Money::default();
        let mut violations = 0;
        let mut denials_by_carc = BTreeMap::new();
        let mut denials_by_category = BTreeMap::new();
        let (mut truth_paid, mut truth_pr, mut mismatched) = (Decimal::ZERO, Decimal::ZERO, 0);
        for state in states {
            let status = state.status.map(|status| status.to_string()).unwrap_or_else(|| "Missing".into());
            *by_status.entry(status).or_insert(0) += 1;
            let (Some(claim), Some(ledger)) = (state.claim.as_ref(), state.ledger.as_ref()) else { continue };
            money.charge += ledger.charge;
            money.paid += ledger.totals.paid;
            money.contractual += ledger.totals.contractual;
            money.patient_responsibility += ledger.totals.patient_responsibility;
            money.other_adjustments += ledger.totals.other_adjustments;
            money.written_off += ledger.written_off;
            money.open += ledger.open_balance();
            if !ledger.conservation_holds() {
                violations += 1;
            }
            for notice in &state.denials {
                *denials_by_carc.entry(notice.code.clone()).or_insert(0) += 1;
                *denials_by_category.entry(format!("{:?}", notice.category)).or_insert(0) += 1;
            }
            let (paid, responsibility) = (truth.paid(&claim.id), truth.patient_responsibility(&claim.id));
            truth_paid += paid;
            truth_pr += responsibility;
            if paid != ledger.totals.paid || responsibility != ledger.totals.patient_responsibility {
                mismatched += 1;
            }
        }
        let report = aging(&payer_items(states), demo.today, Currency::USD);
        let aging_by_payer =
            report.by_payer.iter().map(|(payer, totals)| (payer.to_string(), buckets(totals))).collect();
        let charges = patient_charges(states, Currency::USD).map_err(|error| anyhow::anyhow!("statements: {error}"))?;
        let run = build_statements(demo.org, &charges, &[], Currency::USD, Utc::now(), UserId::derived(&[b"demo"]))
            .map_err(|error| anyhow::anyhow!("statements: {error}"))?;
        let (mut settle, mut processing) = (Latencies::default(), Latencies::default());
        latency.settle.iter().for_each(|took| settle.push(*took));
        latency.processing.iter().for_each(|took| processing.push(*took));
        let files = BTreeMap::from([
            ("837_files".to_string(), tally.files_837),
            ("837_bytes".to_string(), tally.bytes_837),
            ("999".to_string(), tally.acks_999),
            ("277ca".to_string(), tally.acks_277ca),
            ("277ca_files".to_string(), tally.files_277ca),
            ("835".to_string(), tally.remittances),
            ("276_files".to_string(), tally.status_requests),
            ("276_claims".to_string(), tally.status_claims),
            ("277_statuses".to_string(), tally.status_recorded),
        ]);
        let claims = states.len() as u64;
        Ok(DemoSummary {
            practice_org: demo.org.0.to_string(),
            practice_number: demo.practice_number,
            claims,
            secondary_claims: tally.secondary_claims,
            inbound_rejected: tally.inbound_rejected,
            by_status,
            ground_truth: GroundTruthCheck {
                posted_paid: money.paid,
                truth_paid,
                posted_patient_responsibility: money.patient_responsibility,
                truth_patient_responsibility: truth_pr,
                claims_mismatched: mismatched,
                exact: mismatched == 0 && truth_paid == money.paid,
            },
            money,
            conservation_violations: violations,
            denials_by_carc,
            denials_by_category,
            suspense_items: practice.suspense.len() as u64,
            provider_adjustments: practice.provider_ledger.entries,
            plb_by_reason: practice.provider_ledger.by_reason.clone(),
            plb_total: practice.provider_ledger.total(),
            appeals: tally.appeals,
            write_offs: tally.write_offs,
            scrub_failures: tally.scrub_failures,
            front_end_rejections: tally.front_end_rejections,
            syntax_rejections: tally.syntax_rejections,
            files,
            reingested_events: tally.reingested_events,
            aging_insurance: buckets(&report.insurance),
            aging_by_payer,
            statements: run.statements.len() as u64,
            statements_total_due: run.statements.iter().map(|draft| draft.statement.total_due.amount).sum(),
            simulated_days: tally.simulated_days,
            elapsed_seconds: demo.elapsed.as_secs_f64(),
            claims_per_second: claims as f64 / demo.elapsed.as_secs_f64().max(1e-9),
            stage_seconds: demo.stages.clone(),
            settle_p50_ms: settle.percentile_ms(0.50),
            settle_p99_ms: settle.percentile_ms(0.99),
            processing_p50_ms: processing.percentile_ms(0.50),
            processing_p99_ms: processing.percentile_ms(0.99),
            data_dir: data_dir.display().to_string(),
        })
    }

    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Practice OS demo: {} claims ({} of them secondary, built from the primary's 835) over {} simulated days",
            self.claims, self.secondary_claims, self.simulated_days
        );
        if self.practice_number > 1 {
            let _ = writeln!(
                out,
                "(practice {} of this journal, org {}: the journal already held earlier runs' practices)",
                self.practice_number, self.practice_org
            );
        }
        let _ = writeln!(out, "\nClaims by state");
        for (status, count) in &self.by_status {
            let _ = writeln!(out, "  {status:<14} {count:>8}");
        }
        let m = &self.money;
        let _ = writeln!(out, "\nMoney (USD, exact)");
        for (label, amount) in [
            ("charged", m.charge),
            ("paid by payers", m.paid),
            ("contractual adj.", m.contractual),
            ("patient resp.", m.patient_responsibility),
            ("other adj.", m.other_adjustments),
            ("written off", m.written_off),
            ("open", m.open),
        ] {
            let _ = writeln!(out, "  {label:<18} {amount:>16}");
        }
        let g = &self.ground_truth;
        let _ = writeln!(
            out,
            "  G7 charge = paid + adjustments + patient resp. + written off + open: {} violations",
            self.conservation_violations
        );
        let _ = writeln!(
            out,
            "  posted vs simulator ground truth: paid {} / {}, patient resp. {} / {}: {}",
            g.posted_paid,
            g.truth_paid,
            g.posted_patient_responsibility,
            g.truth_patient_responsibility,
            if g.exact { "exact to the cent".to_string() } else { format!("{} claims differ", g.claims_mismatched) }
        );
        let _ = writeln!(out, "\nDenials by CARC");
        for (code, count) in &self.denials_by_carc {
            let _ = writeln!(out, "  {code:<10} {count:>6}");
        }
        let _ = writeln!(out, "Denials by category");
        for (category, count) in &self.denials_by_category {
            let _ = writeln!(out, "  {category:<16} {count:>6}");
        }
        let _ = writeln!(
            out,
            "\nAppeals {}  write-offs {}  scrub failures {}  front-end rejections {} (999: {})  suspense items {}  PLB entries {}",
            self.appeals,
            self.write_offs,
            self.scrub_failures,
            self.front_end_rejections,
            self.syntax_rejections,
            self.suspense_items,
            self.provider_adjustments
        );
        let plb: Vec<String> = self.plb_by_reason.iter().map(|(reason, amount)| format!("{reason} {amount}")).collect();
        let _ = writeln!(out, "PLB by reason (positive: taken back): {}; total {}", plb.join(", "), self.plb_total);
        let _ = writeln!(out, "Files: {:?}", self.files);
        let _ = writeln!(
            out,
            "Every 835 file read and ingested again: {} new events; 835 files refused by the reader: {}",
            self.reingested_events, self.inbound_rejected
        );
        let _ = writeln!(out, "\nInsurance A/R aging");
        for (bucket, amount) in &self.aging_insurance {
            let _ = writeln!(out, "  {bucket:<8} {amount:>14}");
        }
        let _ = writeln!(out, "Patient statements: {} totalling {}", self.statements, self.statements_total_due);
        let _ = writeln!(
            out,
            "\n{:.1} s wall clock, {:.0} claims/s through the whole life; submission → posted payment p50 {:.1} ms, p99 {:.1} ms",
            self.elapsed_seconds, self.claims_per_second, self.settle_p50_ms, self.settle_p99_ms
        );
        let stages: Vec<String> =
            self.stage_seconds.iter().map(|(stage, seconds)| format!("{stage} {seconds:.2} s")).collect();
        let _ = writeln!(out, "where the wall clock went: {}", stages.join(", "));
        let _ = writeln!(
            out,
            "a claim's own legs (submission run to 837 written, 835 arriving to posted; the simulated days between excluded): p50 {:.1} ms, p99 {:.1} ms",
            self.processing_p50_ms, self.processing_p99_ms
        );
        let _ = writeln!(out, "Journal and 837 outbox in {}", self.data_dir);
        out
    }
}
