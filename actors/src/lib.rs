//! The Practice OS actor system.
