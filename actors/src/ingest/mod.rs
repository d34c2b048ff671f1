//! Inbound payer traffic turned into claim commands. `remit` is the reader-neutral shape of
//! an 835 (what the X12 reader produces and the simulator emits); `era` matches it to our
//! claims as `RemittancePosting`s, provider-level entries and a suspense list.

pub mod era;
pub mod remit;
