//! Inbound payer traffic turned into claim commands: ERA (835) auto-posting.
