//! Support code for the integration tests: a real `nats-server` and real processes
//! (`nats`), and the independent X12 validator (`pyx12`).

pub mod nats;
pub mod pyx12;
