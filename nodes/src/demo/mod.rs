//! `practice demo`: a practice's whole revenue cycle on the embedded journal, with the payer and
//! clearinghouse simulator in process on a simulated clock.
//!
//! Encounters become claims; the clinician signs off; the scrubber runs; a billing manager
//! submits; claims leave as 837 batches per payer (written to `<data dir>/outbox`, the file-drop
//! connector's folder); the simulator answers with 999s, 277CAs and, days later, 835s, which are
//! matched and posted; denials are appealed or written off; statements consolidate patient
//! responsibility. 837s, 999s, 277CAs and 835s all travel as files (outbox, inbox), and
//! every answer is read back by our X12 readers. Every step is a command to a claim actor (PLB
//! entries and suspense items: to the practice), journaled before it is acknowledged. The summary is computed from the claims' own state, then checked against the
//! simulator's ground truth to the cent.

mod acks;
mod denials;
mod flow;
mod latency;
mod outbox;
mod parallel;
mod remits;
mod status;
mod submission;
mod summary;

pub use flow::{run, DemoConfig};
