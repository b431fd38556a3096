//! Crash points: the process is killed (SIGKILL) right after each step of
//! the commit protocol of `add` (blob written, synced, renamed, directory
//! synced, catalog batch applied, flushed), on each catalog engine, then the
//! store is reopened.
//! Each stop must leave either nothing or the whole operation, and
//! `verify` must find no error.
//!
//! The kill happens in a child process: this test binary runs itself with
//! `--exact engine::crash_tests::crash_child` and `AKTEN_CRASH_AT` naming the
//! step; [`crate::failpoint::hit`] kills it there. Crash points exist only in
//! test builds.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use crate::catalog::CatalogEngine;
use crate::engine::{Engine, PlanSource, Request, Response};
use crate::failpoint::{CRASH_AT_ENV, STEPS};
use crate::model::{Actor, DocKind};
use crate::store::Config;
use crate::verify::Severity;

const STORE_ENV: &str = "AKTEN_CRASH_STORE";
const FILE_ENV: &str = "AKTEN_CRASH_FILE";
const CONTENT: &[u8] = b"%PDF-1.4\nBauantrag Flurstueck 17/3\n%%EOF\n";

fn actor() -> Actor {
    Actor::new("crash-test")
}

fn add(engine: &mut Engine, file: &Path) -> Response {
    let request = Request::Add {
        files: vec![file.to_path_buf()],
        target: Some(akte_of(engine)),
        title: None,
        kind: DocKind::Eingang,
        received: None,
        allow_duplicate: false,
        sender: None,
        date: None,
    };
    engine.handle(request, &actor()).expect("add")
}

fn akte_of(engine: &mut Engine) -> String {
    match engine.handle(Request::AkteList { position: None, state: Default::default() }, &actor()).unwrap() {
        Response::AkteList { akten } => akten[0].aktenzeichen.to_string(),
        other => panic!("{other:?}"),
    }
}

/// Documents in the store's one Akte.
fn documents(engine: &mut Engine) -> usize {
    let az = akte_of(engine);
    match engine.handle(Request::AkteShow { aktenzeichen: az }, &actor()).unwrap() {
        Response::Akte(view) => view.documents.len(),
        other => panic!("{other:?}"),
    }
}

fn new_store(dir: &Path, catalog: CatalogEngine) -> std::path::PathBuf {
    let root = dir.join("store");
    let mut config = Config::new();
    config.catalog.engine = catalog;
    let (mut engine, _) = Engine::init(&root, PlanSource::Bundled, config, &actor(), "crash test").unwrap();
    engine.handle(Request::AkteOpen { position: "000.04".into(), title: "Bauanträge".into() }, &actor()).unwrap();
    root
}

/// The child's side: add one file to the store named by the environment.
/// Run without that environment (as a normal test), it checks that the same
/// operation completes and is visible.
#[test]
fn crash_child() {
    match (std::env::var_os(STORE_ENV), std::env::var_os(FILE_ENV)) {
        (Some(store), Some(file)) => {
            let mut engine = Engine::open(Path::new(&store), "crash child").unwrap();
            add(&mut engine, Path::new(&file));
            // Reaching this line means the crash point was never hit.
            std::process::exit(3);
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let root = new_store(dir.path(), CatalogEngine::default());
            let file = dir.path().join("antrag.pdf");
            std::fs::write(&file, CONTENT).unwrap();
            let mut engine = Engine::open(&root, "t").unwrap();
            assert!(matches!(add(&mut engine, &file), Response::Added(r) if r.added() == 1));
            assert_eq!(documents(&mut engine), 1);
        }
    }
}

/// Kills the child at `step` while it adds `file` to `root`.
fn add_and_die(root: &Path, file: &Path, step: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "engine::crash_tests::crash_child", "--nocapture", "--test-threads=1"])
        .env(CRASH_AT_ENV, step)
        .env(STORE_ENV, root)
        .env(FILE_ENV, file)
        .output()
        .unwrap()
        .status;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "step {step}: the child was not killed there ({status:?})");
}

fn search_total(engine: &mut Engine, query: &str) -> usize {
    let request = crate::engine::SearchRequest { query: query.into(), ..Default::default() };
    match engine.handle(Request::Search(request), &actor()).unwrap() {
        Response::Search(r) => r.total,
        other => panic!("{other:?}"),
    }
}

/// A kill between the catalog commit and the index commit: `verify` (which
/// does not repair) reports the lag; the next command catches it up.
#[test]
fn an_index_left_behind_by_a_crash_is_reported_and_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = new_store(dir.path(), CatalogEngine::default());
    let first = dir.path().join("first.txt");
    std::fs::write(&first, "Antrag auf Sondernutzung des Gehwegs").unwrap();
    let mut engine = Engine::open(&root, "t").unwrap();
    add(&mut engine, &first);
    assert_eq!(search_total(&mut engine, "sondernutzung"), 1);
    drop(engine);

    let second = dir.path().join("second.txt");
    std::fs::write(&second, "Widerspruch gegen den Gebührenbescheid").unwrap();
    add_and_die(&root, &second, "index.before_commit");

    let mut engine = Engine::open(&root, "after crash").unwrap();
    let report = match engine.handle(Request::Verify, &actor()).unwrap() {
        Response::Verified(r) => r,
        other => panic!("{other:?}"),
    };
    let lag: Vec<_> = report.findings.iter().filter(|f| f.object == "search index").collect();
    assert_eq!(lag.len(), 1, "{:#?}", report.findings);
    assert!(lag[0].problem.contains("not searchable yet"), "{:?}", lag[0]);
    assert_eq!(search_total(&mut engine, "gebührenbescheid"), 1, "caught up on the next command");
    let report = match engine.handle(Request::Verify, &actor()).unwrap() {
        Response::Verified(r) => r,
        other => panic!("{other:?}"),
    };
    assert!(report.findings.iter().all(|f| f.object != "search index" && !f.object.starts_with("document")));
}

#[test]
fn a_stop_at_each_protocol_step_leaves_nothing_or_everything() {
    let exe = std::env::current_exe().unwrap();
    let mut table = Vec::new();
    for (catalog, step) in
        [CatalogEngine::Redb, CatalogEngine::Sled].iter().flat_map(|c| STEPS.iter().map(move |s| (*c, s)))
    {
        let dir = tempfile::tempdir().unwrap();
        let root = new_store(dir.path(), catalog);
        let file = dir.path().join("antrag.pdf");
        std::fs::write(&file, CONTENT).unwrap();

        let status = Command::new(&exe)
            .args(["--exact", "engine::crash_tests::crash_child", "--nocapture", "--test-threads=1"])
            .env(CRASH_AT_ENV, step)
            .env(STORE_ENV, &root)
            .env(FILE_ENV, &file)
            .output()
            .unwrap()
            .status;
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{catalog} step {step}: the child was not killed there ({status:?})"
        );

        let mut engine = Engine::open(&root, "after crash").unwrap();
        let docs = documents(&mut engine);
        let report = match engine.handle(Request::Verify, &actor()).unwrap() {
            Response::Verified(r) => r,
            other => panic!("{other:?}"),
        };
        let errors: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        assert!(errors.is_empty(), "{catalog} step {step}: verify found {errors:#?}");
        match *step {
            "catalog.flushed" | "index.before_commit" => {
                assert_eq!(docs, 1, "{catalog} step {step}: a flushed commit must survive")
            }
            "catalog.applied" => assert!(docs <= 1),
            _ => assert_eq!(docs, 0, "{catalog} step {step}: nothing may be filed before the commit"),
        }
        // Whatever survived is whole: the content reads back verified.
        if docs == 1 {
            let out = match add(&mut engine, &file) {
                Response::Added(r) => r,
                other => panic!("{other:?}"),
            };
            assert_eq!(out.added(), 0, "the rerun sees the document as filed");
        } else {
            // A rerun completes the operation exactly once.
            assert!(matches!(add(&mut engine, &file), Response::Added(r) if r.added() == 1));
        }
        assert_eq!(documents(&mut engine), 1, "{catalog} step {step}");
        table.push(format!("{catalog} {step:<18} documents after restart: {docs}, warnings: {}", report.warnings()));
    }
    eprintln!("{}", table.join("\n"));
}
