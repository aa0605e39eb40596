//! See the crate root.
pub mod stats;
