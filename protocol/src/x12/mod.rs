//! X12 5010: the writers that produce the files we send (837P/837I, 276) and the files the
//! simulator answers with (999, 277CA, 835).

pub mod write;
