//! Inbound payer traffic turned into claim commands. `remit` is the reader-neutral shape of
//! an 835 (what the simulator emits, and `x12_835` makes of the X12 reader's 835); `era`
//! matches it to our claims as `RemittancePosting`s, provider-level entries and a suspense list.

pub mod era;
pub mod remit;
pub mod x12_835;
