//! Damage done behind akten's back: `verify` names each damaged object and
//! exits 1, and reading damaged content fails instead of returning it.

use akten::catalog::CatalogEngine;
use akten::model::{BlobId, DocId};

use crate::util::TestStore;

/// A store with one filed document; returns (store, doc id, blob hex).
fn store_with_doc() -> (TestStore, String, String) {
    let s = TestStore::new();
    let az = s.open_akte("000.04", "Vorlagen");
    let doc =
        s.add(&s.file("vorlage.txt", "Beschlussvorlage 123/2026: Sanierung der Grundschule".as_bytes()), Some(&az));
    let shown = s.json(["show", &doc]);
    let blob = shown["doc"]["versions"][0]["blob"].as_str().unwrap().to_string();
    s.verify_clean();
    (s, doc, blob)
}

/// Runs verify, expects exit 1, returns its findings as (object, problem).
fn findings(s: &TestStore) -> Vec<(String, String, String)> {
    let run = s.run(["--json", "verify"]);
    assert_eq!(run.code, 1, "verify should report errors:\n{}\n{}", run.stdout, run.stderr);
    let human = s.run(["verify"]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("repair:"), "{}", human.stdout);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
                f["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn flipped_byte_in_a_blob() {
    let (s, doc, blob) = store_with_doc();
    let path = s.blob_path(&blob);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let found = findings(&s);
    assert!(
        found.iter().any(|(sev, obj, problem)| sev == "error"
            && obj.starts_with(&format!("document {doc} version 1"))
            && problem.contains(&blob)
            && problem.contains("corrupted")),
        "{found:#?}"
    );
    // `get` refuses, and leaves no output file behind.
    let out = s.dir.path().join("out.txt");
    let run = s.run(["get", &doc, "-o", out.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is corrupted"), "{}", run.stderr);
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(s.dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp"))
            .count(),
        0
    );
}

#[test]
fn deleted_blob() {
    let (s, doc, blob) = store_with_doc();
    std::fs::remove_file(s.blob_path(&blob)).unwrap();
    let found = findings(&s);
    assert!(
        found.iter().any(|(sev, obj, problem)| sev == "error"
            && obj.starts_with(&format!("document {doc} version 1"))
            && problem.contains(&format!("blob {blob}, is missing"))),
        "{found:#?}"
    );
    let run = s.run(["get", &doc]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is missing from the store"), "{}", run.stderr);
}

#[test]
fn edited_audit_event() {
    let (s, _doc, _blob) = store_with_doc();
    // Event 3 is the akte.open; someone rewrites who did it.
    akten::catalog::tamper::edit_audit_event(&s.path.join("catalog"), CatalogEngine::default(), 3, |e| {
        e.actor = akten::model::Actor::new("mallory");
    })
    .unwrap();
    let found = findings(&s);
    assert_eq!(found.len(), 1, "{found:#?}");
    let (sev, obj, problem) = &found[0];
    assert_eq!((sev.as_str(), obj.as_str()), ("error", "audit event 3"));
    assert!(problem.contains("altered"), "{problem}");
}

#[test]
fn catalog_entry_naming_a_missing_blob() {
    let (s, doc, blob) = store_with_doc();
    let nowhere = BlobId::from_hash(blake3::hash(b"content that was never stored"));
    let id: DocId = doc.parse().unwrap();
    akten::catalog::tamper::set_version_blob(&s.path.join("catalog"), CatalogEngine::default(), &id, 1, nowhere)
        .unwrap();
    let found = findings(&s);
    assert!(
        found.iter().any(|(sev, obj, problem)| sev == "error"
            && obj.starts_with(&format!("document {doc} version 1"))
            && problem.contains(&format!("blob {}, is missing", nowhere.to_hex()))),
        "{found:#?}"
    );
    // The blob it used to name is now an orphan: a warning, not an error.
    assert!(found.iter().any(|(sev, obj, _)| sev == "warning" && obj == &format!("blob {blob}")), "{found:#?}");
}

#[test]
fn gc_removes_only_old_orphans() {
    let (s, doc, _blob) = store_with_doc();
    // An orphan: a blob on disk that no document names (as a crash leaves it).
    let orphan = blake3::hash(b"left behind").to_hex().to_string();
    let path = s.blob_path(&orphan);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"left behind").unwrap();
    let report = s.json(["verify"]);
    assert_eq!(report["findings"][0]["severity"], "warning", "{report:#}");

    // Young orphans are kept (they may belong to an operation in flight).
    let gc = s.json(["gc"]);
    assert_eq!(gc["kept_young"], 1);
    assert!(path.exists());

    // Made old, it goes; the document's blob stays.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(48 * 3600);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
    let dry = s.json(["gc", "--dry-run"]);
    assert_eq!(dry["removed"][0]["blob"], orphan.as_str());
    assert!(path.exists());
    let out = s.ok(["gc"]);
    assert!(out.contains(&format!("removed orphan blob {orphan}")), "{out}");
    assert!(!path.exists());
    let report = s.verify_clean();
    assert!(report["findings"].as_array().unwrap().is_empty());
    s.ok(["get", &doc, "-o", s.dir.path().join("x").to_str().unwrap()]);
    assert!(s.ok(["log"]).contains("blobs.gc"));
}
