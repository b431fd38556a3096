//! The CLI tour of the README, end to end: init, plan import, akte open,
//! vorgang open, add, version add, move, show, get, zdA with retention,
//! log, verify.

use std::process::Command;

use crate::util::{BIN, TestStore, berlin_year, need};

#[test]
fn whole_tour() {
    let s = TestStore::new();
    let year = berlin_year();

    // A second plan version that adds a position.
    let plan_v2 = akten::engine::BUNDLED_PLAN.replace("version = \"2026.1\"", "version = \"2026.2\"")
        + "\n[[einheit]]\nkennzeichen = \"000.99\"\ntitel = \"Bürgerhaushalt\"\naufbewahrung = 10\naussonderung = \"B\"\noe = \"10\"\njahres_sammelakte = true\nstichworte = [\"Bürgerhaushalt\"]\n";
    let plan_file = s.file("aktenplan-v2.toml", plan_v2.as_bytes());
    let out = s.ok(["plan", "import", plan_file.to_str().unwrap()]);
    assert!(out.contains("imported Aktenplan der Stadt Musterstadt version 2026.2 (was 2026.1)"), "{out}");
    assert!(out.contains("added: 000.99"), "{out}");
    let pos = s.json(["plan", "show", "000.99"]);
    assert_eq!(pos["position"]["title"], "Bürgerhaushalt");

    // Akten under an unlimited (000.01) and a 10-year (000.04) position.
    let rat = s.open_akte("000.01", "Ratssitzungen");
    assert_eq!(rat, format!("000.01-0001/{year}"));
    let vorlagen = s.open_akte("000.04", "Vorlagen der Fraktionen");
    assert_eq!(vorlagen, format!("000.04-0001/{year}"));
    assert_eq!(s.open_akte("000.01", "Ratssitzungen, zweite Akte"), format!("000.01-0002/{year}"));

    let v = s.json(["vorgang", "open", &rat, "--title", "Sitzung im Dezember"]);
    let vz = v["vorgangszeichen"].as_str().unwrap().to_string();
    assert_eq!(vz, format!("{rat}-1"));

    // Add two documents to the Vorgang.
    let einladung = s.file("einladung.pdf", b"%PDF-1.4\nEinladung zur Ratssitzung am 17.12.\n%%EOF\n");
    let protokoll = s.file("protokoll.txt", "Niederschrift der Ratssitzung: Beschlüsse 1-12".as_bytes());
    let added = s.json([
        "add",
        einladung.to_str().unwrap(),
        protokoll.to_str().unwrap(),
        "--to",
        &vz,
        "--received",
        "03.12.2026",
    ]);
    let results = added["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["outcome"] == "added"), "{added:#}");
    assert_eq!(results[0]["doc"]["media_type"], "application/pdf");
    assert_eq!(results[0]["doc"]["received"], "2026-12-03");
    let doc = results[0]["doc"]["id"].as_str().unwrap().to_string();
    let short = &doc[..8];

    // A new version keeps the old one.
    let v2 = s.file("einladung-v2.pdf", b"%PDF-1.4\nEinladung (korrigiert)\n%%EOF\n");
    let out = s.ok(["version", "add", short, v2.to_str().unwrap()]);
    assert!(out.contains("added version 2"), "{out}");

    // Move it to the other Akte; show and get.
    let out = s.ok(["move", short, "--to", &vorlagen]);
    assert!(out.contains(&format!("from Vorgang {vz} to Akte {vorlagen}")), "{out}");
    let shown = s.json(["show", short]);
    assert_eq!(shown["type"], "dokument");
    assert_eq!(shown["place"]["aktenzeichen"], vorlagen.as_str());
    assert_eq!(shown["doc"]["versions"].as_array().unwrap().len(), 2);

    let out_v1 = s.dir.path().join("v1.pdf");
    let out = s.ok(["get", short, "--version", "1", "-o", out_v1.to_str().unwrap()]);
    assert!(out.contains("blake3 verified"), "{out}");
    assert_eq!(std::fs::read(&out_v1).unwrap(), std::fs::read(&einladung).unwrap());
    let current = s.cmd(["get", short]).output().unwrap();
    assert!(current.status.success());
    assert_eq!(current.stdout, std::fs::read(&v2).unwrap());

    // zdA: an Akte with an open Vorgang closes only with --with-vorgaenge.
    let refused = s.run(["akte", "close", &rat]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("still has open Vorgänge") && refused.stderr.contains(&vz), "{}", refused.stderr);
    let closed = s.json(["akte", "close", &rat, "--with-vorgaenge"]);
    assert_eq!(closed["vorgaenge_closed"][0]["vorgangszeichen"], vz.as_str());
    assert!(closed["akte"]["zda"]["retention_end"].is_null(), "unlimited retention has no end: {closed:#}");
    let closed = s.json(["akte", "close", &vorlagen]);
    let zda_year: i16 = closed["akte"]["zda"]["date"].as_str().unwrap()[..4].parse().unwrap();
    assert_eq!(closed["akte"]["zda"]["retention_end"], format!("{}-12-31", zda_year + 10));

    // A closed Akte takes nothing; reopening works and is logged.
    let refused = s.run(["add", protokoll.to_str().unwrap(), "--to", &vorlagen]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("is closed (zdA)"), "{}", refused.stderr);
    s.ok(["akte", "reopen", &vorlagen]);

    // The log of the Akte shows its life; the whole log ends in the chain head.
    let log = s.ok(["log", &vorlagen]);
    for action in ["akte.open", "dokument.move", "akte.close", "akte.reopen"] {
        assert!(log.contains(action), "{action} missing:\n{log}");
    }
    let log = s.json(["log", "--limit", "0"]);
    let actions: Vec<&str> =
        log["entries"].as_array().unwrap().iter().map(|e| e["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], ["store.init", "plan.import", "plan.import"]);
    assert_eq!(log["chain_head"]["seq"].as_u64().unwrap() as usize, actions.len());
    let me = akten::store::current_os_user();
    assert!(log["entries"].as_array().unwrap().iter().all(|e| e["event"]["actor"] == me.as_str()));

    let report = s.verify_clean();
    assert_eq!(report["documents"], 2);
    assert_eq!(report["versions"], 3);
    assert!(report["findings"].as_array().unwrap().is_empty(), "{report:#}");
}

/// Runs `akten` under libfaketime at a wall-clock time given in the zone
/// `process_tz`, which is also the process's own TZ.
fn at_time(s: &TestStore, process_tz: &str, wall_clock: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new("faketime")
        .arg(wall_clock)
        .arg(BIN)
        .args(["--json", "--store"])
        .arg(&s.path)
        .args(args)
        .env("TZ", process_tz)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// zdA late on 31 December in Berlin belongs to that year, and just after
/// midnight to the next, whatever the process's own time zone says.
#[test]
fn zda_on_new_years_eve_uses_berlin_dates() {
    if !need("faketime", "zda_on_new_years_eve_uses_berlin_dates", "faketime") {
        return;
    }
    let s = TestStore::new();
    let a = s.open_akte("000.04", "Vorlagen");
    let b = s.open_akte("000.04", "Vorlagen II");

    // 23:30 in Berlin on 31 Dec 2026 is 12:30 on 1 Jan 2027 in Kiritimati (UTC+14).
    let closed = at_time(&s, "Pacific/Kiritimati", "2027-01-01 12:30:00", &["akte", "close", &a]);
    assert_eq!(closed["akte"]["zda"]["date"], "2026-12-31", "{closed:#}");
    assert_eq!(closed["akte"]["zda"]["retention_end"], "2036-12-31");
    assert!(closed["akte"]["zda"]["at"].as_str().unwrap().starts_with("2026-12-31T22:30"), "faketime took effect");

    // 00:30 in Berlin on 1 Jan 2027 is still 31 Dec 23:30 in UTC.
    let closed = at_time(&s, "UTC", "2026-12-31 23:30:00", &["akte", "close", &b]);
    assert_eq!(closed["akte"]["zda"]["date"], "2027-01-01", "{closed:#}");
    assert_eq!(closed["akte"]["zda"]["retention_end"], "2037-12-31");

    // An Akte opened then takes the Berlin year in its Aktenzeichen.
    let opened = at_time(&s, "UTC", "2026-12-31 23:45:00", &["akte", "open", "000.04", "--title", "Neujahr"]);
    assert_eq!(opened["aktenzeichen"], "000.04-0001/2027");
    s.verify_clean();
}

/// The main-job command creates the default store; other commands say how
/// to create one.
#[test]
fn only_add_creates_the_default_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("brief.txt");
    std::fs::write(&file, "Sehr geehrte Damen und Herren").unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN).env_remove("AKTEN_STORE").args(args).current_dir(dir.path()).output().unwrap()
    };

    let out = run(&["akte", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no akten store at akten-data: create one with `akten init akten-data`"), "{err}");
    assert!(!dir.path().join("akten-data").exists());

    let out = run(&["add", "brief.txt"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("created a new store at"));
    let out = run(&["posteingang", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("brief"));

    // AKTEN_STORE names a store; a missing one is not created by `add`.
    let out = Command::new(BIN)
        .env("AKTEN_STORE", dir.path().join("elsewhere"))
        .args(["add", "brief.txt"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("elsewhere").exists());
}

/// A store can be created on the other catalog engine, sled; akten.toml
/// must keep naming the engine the catalog was created on.
#[test]
fn sled_catalog_engine() {
    let s = TestStore::uninitialised();
    let out = s.ok(["init", "--catalog-engine", "sled"]);
    assert!(out.contains("(catalog on sled)"), "{out}");
    assert!(s.path.join("catalog/db").is_file());
    let az = s.open_akte("000.04", "Vorlagen");
    let doc = s.add(&s.file("vorlage.txt", b"Beschlussvorlage"), Some(&az));
    s.ok(["akte", "close", &az]);
    assert_eq!(s.json(["show", &doc])["place"]["aktenzeichen"], az.as_str());
    let log = s.json(["log", "--limit", "2"]);
    let actions: Vec<&str> =
        log["entries"].as_array().unwrap().iter().map(|e| e["event"]["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["dokument.add", "akte.close"]);
    assert_eq!(log["total"], 5);
    s.verify_clean();

    let config = s.path.join("akten.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("engine = \"sled\"", "engine = \"redb\"")).unwrap();
    let run = s.run(["akte", "list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("holds no redb catalog but a sled one"), "{}", run.stderr);
}
