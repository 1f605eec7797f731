//! The alert stage: turns recorded hits into e-mail for analysts.
//!
//! [`render`] builds the messages and does no IO.

pub mod render;
