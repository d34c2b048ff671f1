//! Support code for the integration tests: a real `nats-server` and real processes
//! (`nats`), the independent X12 validator (`pyx12`), and threads' scheduling (`threads`).

pub mod nats;
pub mod pyx12;
pub mod threads;
