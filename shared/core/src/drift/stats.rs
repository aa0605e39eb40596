//! See drift.
