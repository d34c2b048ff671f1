//! The payer and clearinghouse simulator's pure core (`practice sim`, and in-process for
//! `practice demo`): per-payer contract fee schedules, adjudication with the variance real
//! payers show (REALISM.md), a simulated clock for 999/277CA/835 timing, a seeded RNG so a
//! seed replays exactly, and the ground truth of everything it decided.
//!
//! - `profile`: payer types, fee schedules and the REALISM.md §10 parameters;
//! - `adjudicate`: one claim → its 277CA decision and line-by-line adjudication;
//! - `cob`: how a secondary payer pays after the primary (OA-23, lesser of);
//! - `engine`: the `Simulator` — batches in, dated 999/277CA/835 outputs out; `remit` builds
//!   its CLP loops, reversals and corrections;
//! - `from837`: a received 837's claims as the `Claim`s the engine takes;
//! - `truth`: what it paid per claim and line, injected denials and underpayments, PLB;
//! - `service`: `practice sim` without its transports — state, replay after a restart, the
//!   answers as named files;
//! - `generate`: synthetic claims for tests and the demo; `rng`: the seeded generator;
//! - `status`: what a payer answers to a 276, from the truth and the day;
//! - `x12`: the outputs as real 999, 277CA, 835 and 277 files, written with `protocol::x12::write`.
//!
//! Its 835s are `practice_actors::ingest::remit::Remittance` values, the same shape the ERA
//! matcher reads, so posting can be checked against the truth without X12 in between.

pub mod adjudicate;
pub mod cob;
pub mod engine;
pub mod fault;
pub mod from837;
pub mod generate;
pub mod profile;
mod remit;
pub mod rng;
pub mod service;
pub mod status;
pub mod truth;
pub mod x12;

pub use adjudicate::{Adjudication, FrontEnd, LineOutcome};
pub use engine::{ClaimMeta, SimError, SimOutput, Simulator};
pub use profile::{AdjudicationParams, DenialCause, FeeSchedule, PayerKind, PayerProfile, Rate};
pub use truth::{GroundTruth, SubmissionTruth};

#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod status_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod x12_tests;
