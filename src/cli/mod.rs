//! Command-line front end: argument definitions and rendering of responses.

pub mod args;
pub mod remote;
pub mod render;
