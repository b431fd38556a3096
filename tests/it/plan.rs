//! The file plan: the bundled plan is complete, bad plans are rejected with
//! file, line and code, and a new version retires positions that hold Akten.

use akten::model::Kennzeichen;
use akten::plan::Plan;

use crate::util::TestStore;

#[test]
fn bundled_plan_is_complete() {
    let plan = Plan::from_toml(akten::engine::BUNDLED_PLAN, "aktenplan.toml").expect("the bundled plan loads");
    for h in 0..=9 {
        let code = Kennzeichen::parse(&h.to_string()).unwrap();
        assert_eq!(plan.position(&code).map(|p| p.level()), Some("Hauptgruppe"), "Hauptgruppe {h}");
    }
    let leaves: Vec<_> = plan.betreffseinheiten().collect();
    assert!(leaves.len() >= 120, "only {} Betreffseinheiten", leaves.len());
    for p in &leaves {
        assert!(!p.title.is_empty(), "{}", p.kennzeichen);
        let unit = p.unit.as_ref().unwrap_or_else(|| panic!("{} has no unit", p.kennzeichen));
        assert!(plan.unit_name(unit).is_some(), "{}: unit {unit} undeclared", p.kennzeichen);
        assert!(!p.keywords.is_empty(), "{} has no keywords", p.kennzeichen);
        for pattern in &p.patterns {
            regex::Regex::new(pattern).unwrap();
        }
    }
    // The statutory civil-registry periods (PStG § 5 Abs. 5, § 7).
    for (code, years) in [("110.05", 110), ("110.06", 80), ("110.07", 30)] {
        let p = plan.position(&Kennzeichen::parse(code).unwrap()).unwrap();
        assert_eq!(p.retention, akten::model::Retention::Years(years), "{code}");
    }
    assert!(leaves.iter().any(|p| p.yearly_collective) && leaves.iter().any(|p| !p.yearly_collective));
}

/// Imports `content` as plan file `name`, expects it refused with every
/// fragment of `expected` in the message, and the store unchanged.
#[track_caller]
fn rejected(s: &TestStore, name: &str, content: &str, expected: &[&str]) {
    let path = s.file(name, content.as_bytes());
    let before = s.audit_state();
    let run = s.run(["plan", "import", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{name} was accepted:\n{}", run.stdout);
    assert_eq!(s.audit_state(), before, "a rejected plan changed the store");
    for fragment in expected {
        assert!(run.stderr.contains(fragment), "{fragment:?} missing from:\n{}", run.stderr);
    }
}

const HEAD: &str = "[aktenplan]\nname = \"Testplan\"\nversion = \"9\"\n\n[[organisationseinheit]]\nkuerzel = \"10\"\nname = \"Hauptamt\"\n";

fn einheit(code: &str, extra: &str) -> String {
    format!("\n[[einheit]]\nkennzeichen = \"{code}\"\ntitel = \"T {code}\"\n{extra}")
}

const FULL: &str = "aufbewahrung = 10\naussonderung = \"B\"\noe = \"10\"\n";

#[test]
fn rejections_name_file_line_and_code() {
    let s = TestStore::new();
    let base = format!("{HEAD}{}{}{}", einheit("0", FULL), einheit("00", FULL), einheit("000", FULL));
    // Line of the next einheit's kennzeichen: count lines of `base` + 3.
    let next_line = base.lines().count() + 3;

    let dup = format!("{base}{}{}", einheit("000.01", FULL), einheit("000.01", FULL));
    let (first, second) = (next_line, next_line + 7);
    rejected(
        &s,
        "dup.toml",
        &dup,
        &[&format!("dup.toml:{second}: position 000.01: duplicate Kennzeichen (first defined at line {first})")],
    );
    rejected(
        &s,
        "orphan.toml",
        &format!("{base}{}", einheit("001.01", FULL)),
        &[&format!("orphan.toml:{next_line}: position 001.01: its parent position 001 is missing")],
    );
    rejected(
        &s,
        "malformed.toml",
        &format!("{base}{}", einheit("000.1a", FULL)),
        &[&format!("malformed.toml:{next_line}: position 000.1a: '000.1a' is not a valid Kennzeichen")],
    );
    rejected(
        &s,
        "noretention.toml",
        &format!("{base}{}", einheit("000.01", "aussonderung = \"B\"\n")),
        &[&format!("noretention.toml:{next_line}: position 000.01: the retention (Aufbewahrung) is missing")],
    );
    rejected(
        &s,
        "nodisposal.toml",
        &format!("{base}{}", einheit("000.01", "aufbewahrung = \"unbefristet\"\n")),
        &[&format!("nodisposal.toml:{next_line}: position 000.01: the disposal code (Aussonderungsart) is missing")],
    );
    rejected(
        &s,
        "baddisposal.toml",
        &format!("{base}{}", einheit("000.01", "aufbewahrung = 5\naussonderung = \"X\"\n")),
        &["baddisposal.toml", "Aussonderungsart 'X' must be A, B or V"],
    );
    let csv =
        "Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;OE\n0;Verwaltung;10;B;10\n00;Organe;10;B;\n00.1;Rat;;A;\n";
    rejected(&s, "plan.csv", csv, &["plan.csv:4: position 00.1: the retention (Aufbewahrung) is missing"]);
    rejected(&s, "syntax.toml", &format!("{base}\n[[einheit]]\nkennzeichen = \"000.01\n"), &["syntax.toml:"]);
}

/// Removes the `[[einheit]]` blocks of the given codes from a TOML plan.
fn without(plan: &str, codes: &[&str]) -> String {
    let mut blocks = plan.split("\n[[einheit]]\n");
    let mut out = blocks.next().unwrap().to_string();
    for block in blocks {
        if !codes.iter().any(|c| block.contains(&format!("kennzeichen = \"{c}\"\n"))) {
            out.push_str("\n[[einheit]]\n");
            out.push_str(block);
        }
    }
    out
}

#[test]
fn new_version_retires_positions_holding_akten() {
    let s = TestStore::new();
    let az = s.open_akte("000.01", "Ratssitzungen");
    let doc = s.add(&s.file("niederschrift.txt", b"Niederschrift"), Some(&az));

    let v2 = without(akten::engine::BUNDLED_PLAN, &["000.01", "000.02"])
        .replace("version = \"2026.1\"", "version = \"2027.1\"");
    let path = s.file("aktenplan-2027.toml", v2.as_bytes());
    let dry = s.json(["plan", "import", path.to_str().unwrap(), "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(s.json(["plan", "show"])["version"], "2026.1", "a dry run changes nothing");

    let report = s.json(["plan", "import", path.to_str().unwrap()]);
    assert_eq!(report["changes"]["retired"], serde_json::json!(["000.01"]));
    assert_eq!(report["changes"]["removed"], serde_json::json!(["000.02"]));

    // The retired position stays readable with its Akte and document.
    let pos = s.json(["plan", "show", "000.01"]);
    assert_eq!(pos["position"]["retired"], true);
    assert_eq!(pos["akten"], 1);
    assert!(s.ok(["plan", "show", "000.01"]).contains("retired (stillgelegt)"));
    let akte = s.json(["akte", "show", &az]);
    assert_eq!(akte["documents"][0]["id"], doc.as_str());
    let list = s.json(["akte", "list", "--plan", "000"]);
    assert_eq!(list["akten"].as_array().unwrap().len(), 1);

    // But takes no new Akten; the dropped empty position is gone.
    let run = s.run(["akte", "open", "000.01", "--title", "x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("000.01 is retired (stillgelegt)"), "{}", run.stderr);
    let run = s.run(["plan", "show", "000.02"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("000.02 is not in the Aktenplan"), "{}", run.stderr);

    // Importing the first version again brings the position back.
    let v1 = s.file("aktenplan-2026.toml", akten::engine::BUNDLED_PLAN.as_bytes());
    let report = s.json(["plan", "import", v1.to_str().unwrap()]);
    assert_eq!(report["changes"]["reactivated"], serde_json::json!(["000.01"]));
    s.open_akte("000.01", "Ratssitzungen 2");
    s.verify_clean();
}

#[test]
fn csv_plan_import_and_init_with_it() {
    let s = TestStore::uninitialised();
    let csv = "Kennzeichen;Titel;Aufbewahrung;Aussonderungsart;OE;OE-Bezeichnung;Jahressammelakte;Stichworte\n\
               1;Sicherheit und Ordnung;10;B;32;Ordnungsamt;;\n\
               11;Öffentliche Ordnung;10;B;;;;\n\
               110;Ordnungsangelegenheiten;10;B;;;;\n\
               110.18;Fundsachen;3;V;;;ja;Fundsache|Fundbüro\n\
               110.05;Geburtenregister;110;A;34;Standesamt;nein;Geburt\n";
    let path = s.file("plan.csv", csv.as_bytes());
    let init = s.cmd(["init", "--plan", path.to_str().unwrap()]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let pos = s.json(["plan", "show", "110.05"]);
    assert_eq!(pos["position"]["retention"], serde_json::json!({"years": 110}));
    assert_eq!(pos["unit_name"], "Standesamt");
    let az = s.open_akte("110.18", "Fundsachen 2026");
    assert!(az.starts_with("110.18-0001/"));
    s.verify_clean();
}
