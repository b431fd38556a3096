//! End-to-end tests: the real `akten` binary on real stores in temp dirs.
//!
//! One test binary (see Cargo.toml `[[test]] name = "it"`); each module is
//! one feature boundary. Helpers live in `util`.

mod bad_input;
mod classify;
mod corruption;
mod coversheet;
mod crash;
mod mailroom;
mod ocr;
mod pdfgen;
mod plan;
mod search;
mod serve;
mod streaming;
mod tour;
mod util;
