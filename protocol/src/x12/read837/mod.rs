//! Reading 837P/837I back: the claims our writer (or a clearinghouse's sender) put in a file,
//! for the payer simulator and for the writer's round-trip tests.
//!
//! - [`model`]: [`Claim837`], what an 837 carries of a claim, and [`Claim837::carried_by`].
//! - [`reader`]: [`read_837`], a streaming pass over the lexer's segments.

mod claim_content;
mod elements;
pub mod model;
pub mod reader;

pub use model::{
    BillingProvider837, Claim837, Line837, LineAdjudication837, OtherPayer837, Payer837, Person837, Provider837,
};
pub use reader::read_837;
