//! 835 health care claim payment/advice (005010X221A1): the typed model, the streaming
//! reader and the balance rules.

mod balance;
pub mod model;
mod reader;

pub use model::*;
pub use reader::RemittanceReader;
