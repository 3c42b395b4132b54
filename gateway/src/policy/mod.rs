//! Settings and decisions.

pub mod settings;
