//! akten: the electronic records system (E-Akte) of a German municipality.
//!
//! Documents are kept unchanged, content-addressed by blake3 ([`blobs`]), and
//! filed into the city's file plan ([`plan`]) as Akten, Vorgänge and
//! Dokumente ([`model`]). Their metadata lives in a catalog ([`catalog`]),
//! every change leaves a hash-chained audit event ([`audit`]), and
//! [`verify`] re-checks all of it.
//!
//! Every front end (the CLI today, a daemon and an HTTP API later) talks to
//! the store through one request/response API: [`engine::Engine::handle`].
//! See `ARCHITECTURE.md` for the bird's-eye view and the invariants, and
//! `docs/format.md` for the on-disk formats.

pub mod audit;
pub mod blobs;
pub mod calendar;
pub mod catalog;
pub mod classify;
pub mod coversheet;
pub mod engine;
pub mod extract;
pub mod failpoint;
pub mod index;
pub mod intake;
pub mod media;
pub mod model;
pub mod plan;
pub mod server;
pub mod store;
pub mod verify;
