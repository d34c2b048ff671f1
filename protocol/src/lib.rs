//! The Practice OS contract: domain types, exact money, the claim state machine, events and
//! commands in versioned envelopes, the wire codec, subjects and shards, and X12 5010.
//!
//! Architecture invariant: this crate does no IO, spawns nothing and logs nothing. Everything
//! here is a plain function over plain data, testable without a runtime.

pub mod carc;
pub mod claim;
pub mod codec;
pub mod codes;
pub mod domain;
pub mod envelope;
mod error;
pub mod fixtures;
pub mod id_set;
pub mod ids;
pub mod money;
pub mod payer;
pub mod practice;
pub mod remit_ledger;
pub mod roles;
pub mod shard;
pub mod statement_book;
pub mod x12;

pub use error::{ValidationError, ValidationKind};
pub use money::{Currency, Money};
