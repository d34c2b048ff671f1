//! Sentry: checks that run before a claim leaves the building. Today the scrubber; claim
//! edits and denial prediction deepen it later.

pub mod scrub;
