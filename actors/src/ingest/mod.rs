//! Inbound payer traffic turned into claim commands. `remit` is the reader-neutral shape of
//! an 835 (what the simulator emits, and `x12_835` makes of the X12 reader's 835); `era`
//! matches it to our claims as `RemittancePosting`s, provider-level entries and a suspense list.
//! `inbound` plans a whole raw file (835, 277CA, 999, 277) as claim commands; `pipeline` runs
//! that plan against a node's claim actors, behind the connectors and the upload endpoint.
//! `registry` records which claims left in which 837 batch (`sent` reads that from the bytes),
//! so `ack999` can take a 999's verdicts back to claims; `ledger` journals PLB entries and
//! suspense items on the practice entity.

pub mod ack999;
pub mod era;
pub mod inbound;
pub mod ledger;
pub mod pipeline;
pub mod registry;
pub mod remit;
pub mod sample;
pub mod sent;
pub mod status277;
pub mod x12_835;
