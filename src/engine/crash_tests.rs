//! Crash tests of the commit protocol (filled in next).
