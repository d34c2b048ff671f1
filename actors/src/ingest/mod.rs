//! Inbound payer traffic turned into claim commands. `remit` is the reader-neutral shape of
//! an 835 (what the simulator emits, and `x12_835` makes of the X12 reader's 835); `era`
//! matches it to our claims as `RemittancePosting`s, provider-level entries and a suspense list.
//! `inbound` plans a whole raw file (835, 277CA, 999, 277) as claim commands; `pipeline` runs
//! that plan against a node's claim actors, behind the connectors and the upload endpoint.

pub mod era;
pub mod inbound;
pub mod pipeline;
pub mod remit;
pub mod sample;
pub mod x12_835;
