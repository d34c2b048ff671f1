//! Figures for the simulator and ERA posting (a benchmark that reports, never asserts):
//! `cargo run --release -p practice-nodes --example sim_figures -- [claims] [seed]`.
//!
//! Generates claims across the five payer types, runs them through the simulator, matches
//! every 835 to our claims and posts it with `decide`/`apply`, then prints throughput, the
//! denial and rejection rates by payer type, money totals against the ground truth and the
//! A/R aging of what stays open.

use chrono::{NaiveDate, TimeZone, Utc};
use practice_actors::billing::{aging, payer_items, AgingBucket};
use practice_actors::ingest::era::{match_remittance, ClaimIndex};
use practice_nodes::sim::generate::generate_claims;
use practice_nodes::sim::{PayerKind, PayerProfile, SimOutput, Simulator, SubmissionTruth};
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, DecideContext};
use practice_protocol::ids::{ClaimId, PayerId};
use practice_protocol::roles::{Actor, SystemComponent};
use practice_protocol::Currency;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2026);
    let start = NaiveDate::from_ymd_opt(2026, 3, 1).ok_or("date")?;
    let profiles: Vec<PayerProfile> = PayerKind::ALL
        .iter()
        .enumerate()
        .map(|(i, kind)| Ok(PayerProfile::new(PayerId::parse(&format!("PAYER{i}"))?, &format!("{kind:?}"), *kind)))
        .collect::<Result<_, practice_protocol::ValidationError>>()?;
    let kind_of: HashMap<PayerId, PayerKind> = profiles.iter().map(|p| (p.payer_id.clone(), p.kind)).collect();

    let clock = Instant::now();
    let claims = generate_claims(seed, 0, count, &profiles, start - chrono::Duration::days(20), 20)?;
    let generated = clock.elapsed();

    let clock = Instant::now();
    let mut sim = Simulator::new(seed, start, profiles);
    let mut by_payer: BTreeMap<PayerId, Vec<_>> = BTreeMap::new();
    for claim in &claims {
        by_payer.entry(claim.coverages[0].payer.payer_id.clone()).or_default().push(claim.clone());
    }
    for (payer, batch) in &by_payer {
        for (n, chunk) in batch.chunks(5_000).enumerate() {
            sim.receive(&format!("{payer}-{n}"), chunk)?;
        }
    }
    let outputs = sim.drain(400)?;
    let simulated = clock.elapsed();

    let clock = Instant::now();
    let index = ClaimIndex::new(claims.iter());
    let mut states: HashMap<ClaimId, ClaimState> = claims
        .iter()
        .map(|claim| {
            let mut state = ClaimState::default();
            for event in [
                ClaimEvent::Created { claim: Box::new(claim.clone()) },
                ClaimEvent::SignedOff,
                ClaimEvent::ScrubPassed { warnings: vec![] },
                ClaimEvent::Submitted { tracking_id: "sim".into(), frequency: claim.frequency },
            ] {
                state.apply(&event);
            }
            (claim.id, state)
        })
        .collect();
    let context = DecideContext::at(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).single().ok_or("time")?);
    let (mut postings, mut suspense, mut plb) = (0u64, 0u64, Decimal::ZERO);
    for output in &outputs {
        let SimOutput::Remit { remittance, .. } = output else { continue };
        let outcome = match_remittance(remittance, &index);
        suspense += outcome.suspense.len() as u64;
        plb += outcome.provider_entries.iter().map(|e| e.amount.amount).sum::<Decimal>();
        for posting in outcome.postings {
            let Some(state) = states.get_mut(&posting.claim_id) else { continue };
            let actor = Actor::System { org: claims[0].org, component: SystemComponent::Ingestion };
            let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting) };
            for event in decide(state, posting.command_id, &command, &actor, &context)? {
                state.apply(&event);
            }
            postings += 1;
        }
    }
    let posted = clock.elapsed();

    let truth = sim.truth();
    let (mut paid, mut charge, mut contractual, mut patient, mut open) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let mut g7 = true;
    let mut mismatched = 0u64;
    for claim in &claims {
        let ledger = states[&claim.id].ledger.as_ref().ok_or("ledger")?;
        g7 &= ledger.conservation_holds();
        mismatched += u64::from(ledger.totals.paid != truth.paid(&claim.id));
        paid += ledger.totals.paid;
        charge += ledger.charge;
        contractual += ledger.totals.contractual;
        patient += ledger.totals.patient_responsibility;
        open += ledger.open_balance();
    }
    let mut by_kind: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for claim in &claims {
        let kind = format!("{:?}", kind_of[&claim.coverages[0].payer.payer_id]);
        let entry = by_kind.entry(kind).or_default();
        match truth.claims.get(&claim.id).and_then(|s| s.first()) {
            Some(SubmissionTruth::Adjudicated { adjudication, .. }) => {
                entry.0 += 1;
                entry.1 += u64::from(adjudication.denial.is_some());
            }
            Some(SubmissionTruth::FrontEndRejected { .. }) => entry.2 += 1,
            _ => {}
        }
    }
    let per_second = |n: u64, d: std::time::Duration| n as u128 * 1_000_000 / d.as_micros().max(1);
    println!("claims {count}, seed {seed}");
    println!(
        "generate {:?}; simulate {:?} ({} claims/s); ERA match+post {:?} ({} postings, {} postings/s)",
        generated,
        simulated,
        per_second(count, simulated),
        posted,
        postings,
        per_second(postings, posted)
    );
    println!("suspense {suspense}; G7 on every claim: {g7}; claims whose posted paid != truth: {mismatched}");
    println!("charged {charge}  paid {paid}  contractual {contractual}  patient {patient}  open {open}");
    println!(
        "truth paid {}  truth underpaid {}  PLB net {} (truth {})",
        truth.paid_total(),
        truth.underpaid_total(),
        plb,
        truth.plb_total()
    );
    for (kind, (adjudicated, denied, rejected)) in &by_kind {
        println!(
            "{kind:>18}: denied {}‰ of adjudicated, 277CA-rejected {}‰",
            denied * 1000 / (*adjudicated).max(1),
            rejected * 1000 / (adjudicated + rejected).max(1)
        );
    }
    let report = aging(&payer_items(states.values()), start + chrono::Duration::days(60), Currency::USD);
    let buckets: Vec<String> =
        AgingBucket::ALL.iter().map(|b| format!("{} {}", b.label(), report.insurance.get(*b))).collect();
    println!("insurance A/R aging at day 60: {}", buckets.join(" | "));
    Ok(())
}
