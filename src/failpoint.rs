//! Crash points for the commit-protocol tests.
//!
//! In the library's own test build, [`hit`] kills the process with SIGKILL
//! when the environment variable `AKTEN_CRASH_AT` names the step, so a test
//! can stop an operation between any two steps of the protocol and inspect
//! what is left. In every other build it compiles to nothing: the shipped
//! binary has no way to be told to crash.

/// The environment variable naming the step to die at (test builds only).
pub const CRASH_AT_ENV: &str = "AKTEN_CRASH_AT";

/// The protocol steps, in the order an operation passes them.
pub const STEPS: &[&str] = &[
    "blob.written",
    "blob.synced",
    "blob.renamed",
    "blob.dir_synced",
    "catalog.applied",
    "catalog.flushed",
    "index.before_commit",
];

/// Marks that the operation has just completed step `name`.
#[cfg(test)]
pub fn hit(name: &str) {
    debug_assert!(STEPS.contains(&name), "unknown crash point {name}");
    if std::env::var(CRASH_AT_ENV).as_deref() == Ok(name) {
        // SAFETY: kill(2) with our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Marks that the operation has just completed step `name` (no-op here).
#[cfg(not(test))]
#[inline(always)]
pub fn hit(_name: &str) {}
