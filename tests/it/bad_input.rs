//! Bad input gets a clear error and exit code 2, and changes nothing: the
//! audit chain head and the documents are the same before and after, and
//! `verify` stays clean.

use std::process::Command;

use crate::util::{TestStore, need};

/// Runs `args`, expects exit 2 with `expected` in stderr, and checks that
/// the store did not change.
#[track_caller]
fn refused(s: &TestStore, args: &[&str], expected: &str) {
    let before = s.audit_state();
    let docs_before = s.json(["posteingang", "list"]);
    let run = s.run(args);
    assert_eq!(run.code, 2, "akten {args:?} should fail with 2:\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(expected), "akten {args:?}: expected {expected:?} in:\n{}", run.stderr);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(s.audit_state(), before, "akten {args:?} changed the audit log");
    assert_eq!(s.json(["posteingang", "list"]), docs_before);
    s.verify_clean();
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let s = TestStore::new();
    let az = s.open_akte("000.04", "Vorlagen");
    let good = s.file("good.txt", b"ein Brief");
    let good = good.to_str().unwrap();
    let missing = s.dir.path().join("files/nope.pdf");
    let dir = s.dir.path().join("files");

    refused(&s, &["add", missing.to_str().unwrap()], "nope.pdf: no such file: check the path");
    // One bad file among good ones: nothing is added.
    refused(&s, &["add", good, missing.to_str().unwrap()], "no such file");
    refused(&s, &["add", dir.to_str().unwrap()], "is a directory: give the files in it");
    refused(&s, &["add", good, "--to", "999.99-0001/2026"], "no Akte or Vorgang '999.99-0001/2026'");
    refused(&s, &["akte", "open", "000", "--title", "x"], "000 is a Untergruppe, not a Betreffseinheit");
    refused(&s, &["akte", "open", "0", "--title", "x"], "0 is a Hauptgruppe, not a Betreffseinheit");
    refused(&s, &["akte", "open", "000.77", "--title", "x"], "000.77 is not in the Aktenplan");
    refused(&s, &["akte", "open", "abc", "--title", "x"], "abc is not in the Aktenplan");
    refused(&s, &["akte", "open", "000.04", "--title", "  "], "the title must not be empty");
    refused(&s, &["add", good, "--received", "31.02.2026"], "'31.02.2026' is not a date");
    refused(&s, &["show", "ffffffff"], "nothing found for 'ffffffff'");
    refused(&s, &["move", "abc", "--to", &az], "no document 'abc'");

    s.ok(["akte", "close", &az]);
    refused(
        &s,
        &["add", good, "--to", &az],
        &format!("the Akte {az} is closed (zdA): reopen it first with `akten akte reopen {az}`"),
    );
    refused(&s, &["vorgang", "open", &az, "--title", "x"], "is closed (zdA)");
}

#[test]
fn unreadable_file_is_refused() {
    let s = TestStore::new();
    let secret = s.file("secret.pdf", b"%PDF-1.4 vertraulich");
    let mut perms = std::fs::metadata(&secret).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o000);
    std::fs::set_permissions(&secret, perms).unwrap();

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        refused(&s, &["add", secret.to_str().unwrap()], "cannot be read (permission denied)");
        return;
    }
    // Root reads anything, so run akten as an unprivileged user on a store it owns.
    if !need("setpriv", "unreadable_file_is_refused (running as root)", "util-linux") {
        return;
    }
    let nobody = Command::new("chown").args(["-R", "65534:65534"]).arg(&s.path).status().unwrap();
    assert!(nobody.success());
    for dir in [s.dir.path().to_path_buf(), s.dir.path().join("files")] {
        let mut perms = std::fs::metadata(&dir).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&dir, perms).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(crate::util::BIN)
            .arg("--store")
            .arg(&s.path)
            .args(args)
            .output()
            .unwrap()
    };
    let log_before = as_nobody(&["--json", "log", "--limit", "1"]);
    assert!(log_before.status.success(), "{}", String::from_utf8_lossy(&log_before.stderr));
    let out = as_nobody(&["add", secret.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secret.pdf: cannot be read (permission denied)"), "{err}");
    let log_after = as_nobody(&["--json", "log", "--limit", "1"]);
    assert_eq!(log_before.stdout, log_after.stdout, "nothing changed");
    assert!(as_nobody(&["verify"]).status.success());
}

#[test]
fn second_process_is_refused_naming_the_holder() {
    let s = TestStore::new();
    let file = s.file("brief.txt", b"Brief");
    let before = s.audit_state();
    {
        // This test process holds the store, as a running `akten` would.
        let _holder = akten::engine::Engine::open(&s.path, "akten add scan-0001.pdf").unwrap();
        let run = s.run(["add", file.to_str().unwrap()]);
        assert_eq!(run.code, 2);
        let expected = format!("is in use by pid {} (akten add scan-0001.pdf, user ", std::process::id());
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
        assert!(run.stderr.contains("wait for it to finish, or stop it"), "{}", run.stderr);
    }
    assert_eq!(s.audit_state(), before);
    s.verify_clean();
}

#[test]
fn newer_store_format_is_refused() {
    let s = TestStore::new();
    let config = s.path.join("akten.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("format = 1", "format = 7")).unwrap();
    let run = s.run(["akte", "list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("store format 7") && run.stderr.contains("newer than this akten"), "{}", run.stderr);
}
