//! Classification and the Posteingang, end to end with the real binary:
//! citations ("Ihr Zeichen" files, "Unser Zeichen" is kept as the sender's
//! reference), the plan's rules under the policy, the learned model, and
//! the Posteingang decisions (file, forward, discard, dispose) in the log.

use serde_json::Value;

use crate::util::{TestStore, berlin_year};

/// A small plan: a yearly collective position with rules (dog tax), a case
/// file position with a pattern (building permits), and two others for the
/// model to tell apart.
const PLAN: &str = r#"
[aktenplan]
name = "Klassifikation"
version = "1"

[[organisationseinheit]]
kuerzel = "20"
name = "Kämmerei"

[[organisationseinheit]]
kuerzel = "63"
name = "Bauordnungsamt"

[[organisationseinheit]]
kuerzel = "67"
name = "Grünflächenamt"

[[einheit]]
kennzeichen = "0"
titel = "Finanzen"
oe = "20"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "02"
titel = "Steuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "020"
titel = "Gemeindesteuern"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "020.01"
titel = "Hundesteuer"
aufbewahrung = 10
aussonderung = "V"
jahres_sammelakte = true
stichworte = ["Hundesteuer"]
absender = ["Tierheim Musterstadt"]

[[einheit]]
kennzeichen = "6"
titel = "Bauen"
oe = "63"
aufbewahrung = 30
aussonderung = "B"

[[einheit]]
kennzeichen = "61"
titel = "Bauordnung"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "610"
titel = "Baugenehmigungen"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "610.07"
titel = "Bauanträge"
aufbewahrung = 10
aussonderung = "V"
muster = ['(?i)flurst(ü|ue)ck\s+\d+']

[[einheit]]
kennzeichen = "7"
titel = "Grün"
oe = "67"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "77"
titel = "Grünflächen"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "770"
titel = "Bäume"
aufbewahrung = 10
aussonderung = "V"

[[einheit]]
kennzeichen = "770.01"
titel = "Baumschutz"
aufbewahrung = 10
aussonderung = "V"
"#;

fn store() -> TestStore {
    let s = TestStore::uninitialised();
    let plan = s.file("plan.toml", PLAN.as_bytes());
    s.ok(["init".as_ref(), "--plan".as_ref(), plan.as_os_str()]);
    s
}

/// Adds a text letter; returns the add result (outcome, doc, place, filing).
fn add_letter(s: &TestStore, name: &str, text: &str) -> Value {
    let path = s.file(name, text.as_bytes());
    let v = s.json(["add".as_ref(), path.as_os_str()]);
    let r = v["results"][0].clone();
    assert_eq!(r["outcome"], "added", "{v:#}");
    r
}

fn append_config(s: &TestStore, text: &str) {
    let path = s.path.join("akten.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(text);
    std::fs::write(&path, config).unwrap();
}

fn item<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list:#}"))
}

fn actions(s: &TestStore, object: Option<&str>) -> Vec<String> {
    let mut args = vec!["log", "--limit", "0"];
    if let Some(o) = object {
        args.insert(1, o);
    }
    let v = s.json(&args);
    v["entries"].as_array().unwrap().iter().map(|e| e["event"]["action"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_letter_citing_an_open_akte_after_ihr_zeichen_is_filed_there() {
    let s = store();
    let az = s.open_akte("610.07", "Bauantrag Gartenstraße 4");
    let other = s.open_akte("610.07", "Bauantrag Lindenweg 9");
    let letter = format!(
        "Architekturbüro Weber\nIhr Zeichen: {az}\nUnser Zeichen: W-2026/118\n\nSehr geehrte Damen und Herren,\nanbei die nachgeforderten Statikunterlagen.\n"
    );
    let r = add_letter(&s, "statik.txt", &letter);
    assert_eq!(r["place"]["aktenzeichen"], az.as_str(), "{r:#}");
    assert_eq!(r["filing"]["by"], "citation");
    let reasons = r["filing"]["reasons"].to_string();
    assert!(reasons.contains(&az) && reasons.contains("ihr zeichen"), "{reasons}");

    // The human output says why, and `show` keeps the sender's reference.
    let id = r["doc"]["id"].as_str().unwrap();
    let shown = s.ok(["show", id]);
    assert!(shown.contains(&format!("filed by   citation: cited as \"{az}\" after \"ihr zeichen\"")), "{shown}");
    assert!(shown.contains("their ref  W-2026/118"), "{shown}");
    let doc = s.json(["show", id]);
    assert_eq!(doc["doc"]["external_reference"], "W-2026/118");
    assert_eq!(doc["doc"]["filing"]["by"], "citation");

    // The audit event of the add names the decision.
    let log = s.json(["log", id]);
    let changes = log["entries"][0]["event"]["changes"].to_string();
    assert!(changes.contains("abgelegt_durch") && changes.contains("citation"), "{changes}");

    // The same number after "Unser Zeichen" is the sender's: not used for
    // filing, kept as the external reference.
    let theirs =
        format!("Stadtwerke Musterstadt\nUnser Zeichen: {other}\n\nBetreff: Hausanschluss\nBitte um Rückruf.\n");
    let r = add_letter(&s, "hausanschluss.txt", &theirs);
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    assert!(r.get("filing").is_none(), "{r:#}");
    let id = r["doc"]["id"].as_str().unwrap();
    let list = s.json(["posteingang", "list"]);
    let entry = item(&list, id);
    assert_eq!(entry["external_reference"], other.as_str());
    assert!(
        !entry["suggestions"].as_array().into_iter().flatten().any(|x| x["evidence"] == "citation"),
        "a key after Unser Zeichen must not become a citation: {entry:#}"
    );

    // A DIN 5008 reference line: labels in one row, values below.
    let line = format!(
        "Ihr Zeichen        Ihre Nachricht vom   Unser Zeichen   Datum\n{az}   01.12.2026           K-5/dw          03.12.2026\n\nNachreichung Brandschutz\n"
    );
    let r = add_letter(&s, "brandschutz.txt", &line);
    assert_eq!(r["place"]["aktenzeichen"], az.as_str(), "{r:#}");
    let doc = s.json(["show", r["doc"]["id"].as_str().unwrap()]);
    assert_eq!(doc["doc"]["external_reference"], "K-5/dw");

    // Citing a closed Akte: akten does not file, and says why.
    s.ok(["akte", "close", &other]);
    let r = add_letter(&s, "spaet.txt", &format!("Ihr Az.: {other}\nNoch eine Frage zum Bescheid.\n"));
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    let list = s.json(["posteingang", "list"]);
    let entry = item(&list, r["doc"]["id"].as_str().unwrap());
    assert!(entry["why"].as_str().unwrap().contains("closed"), "{entry:#}");
    assert_eq!(entry["suggestions"][0]["target"]["aktenzeichen"], other.as_str(), "{entry:#}");

    // Two different Akten cited as ours: a person decides.
    let third = s.open_akte("610.07", "Bauantrag Am Hang 1");
    let r = add_letter(&s, "zwei.txt", &format!("Ihr Zeichen: {az}\nAz.: {third}\nZwei Vorhaben.\n"));
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    s.verify_clean();
}

#[test]
fn rules_fire_as_configured_and_below_the_threshold_items_wait_with_suggestions() {
    let s = store();
    let year = berlin_year();
    // Rules are on in the plan, automatic filing is off by default: the
    // letter waits with the rule's suggestion and the unit it points to.
    let r = add_letter(&s, "hund.txt", "Tierheim Musterstadt\n\nAnmeldung zur Hundesteuer für unseren Hund Bello.\n");
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    let id = r["doc"]["id"].as_str().unwrap().to_string();
    let list = s.json(["posteingang", "list"]);
    let entry = item(&list, &id);
    let top = &entry["suggestions"][0];
    assert_eq!(top["position"], "020.01", "{entry:#}");
    assert_eq!(top["evidence"], "rule");
    assert_eq!(top["unit"], "20");
    assert_eq!(entry["unit"], "20");
    let reasons = top["reasons"].to_string();
    assert!(reasons.contains("keyword \\\"Hundesteuer\\\"") && reasons.contains("sender"), "{reasons}");
    let human = s.ok(["posteingang", "list"]);
    assert!(human.contains("for unit 20 (Kämmerei)") && human.contains("keyword \"Hundesteuer\""), "{human}");

    // Switched on for group 020 with a threshold: keyword + sender (0.9)
    // files into the year's collective Akte, opened by akten once.
    append_config(&s, "\n[[classify.auto]]\nposition = \"020\"\nrules = true\nthreshold = 0.8\n");
    let first = add_letter(&s, "hund2.txt", "Tierheim Musterstadt\nHundesteuer: Abmeldung Hund Rex\n");
    assert_eq!(first["filing"]["by"], "rule", "{first:#}");
    let az = first["place"]["aktenzeichen"].as_str().unwrap().to_string();
    let akte = s.json(["akte", "show", &az]);
    assert_eq!(akte["akte"]["title"], format!("Hundesteuer {year}"));
    assert_eq!(akte["akte"]["position"], "020.01");
    let second = add_letter(&s, "hund3.txt", "Tierheim Musterstadt\nHundesteuer für Hund Max\n");
    assert_eq!(second["place"]["aktenzeichen"], az.as_str(), "the year's Akte is reused: {second:#}");
    assert_eq!(s.json(["akte", "list", "--plan", "020.01"])["akten"].as_array().unwrap().len(), 1);

    // Only the keyword (0.5): below the threshold, it waits and says so.
    let low = add_letter(&s, "hund4.txt", "Frage zur Hundesteuer\n");
    assert_eq!(low["place"]["in"], "posteingang", "{low:#}");
    let list = s.json(["posteingang", "list"]);
    let why = item(&list, low["doc"]["id"].as_str().unwrap())["why"].as_str().unwrap().to_string();
    assert!(why.contains("below the threshold of 80 %"), "{why}");

    // Rules at a case-file position never open an Akte, even when switched on.
    append_config(&s, "\n[[classify.auto]]\nposition = \"610\"\nrules = true\nthreshold = 0.5\n");
    let r = add_letter(&s, "bau.txt", "Bauvoranfrage für Flurstück 17\n");
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    let list = s.json(["posteingang", "list"]);
    let entry = item(&list, r["doc"]["id"].as_str().unwrap());
    assert_eq!(entry["suggestions"][0]["position"], "610.07");
    assert!(entry["why"].as_str().unwrap().contains("no yearly collective file"), "{entry:#}");
    // With exactly one open Akte there, that one is the target.
    let only = s.open_akte("610.07", "Bauantrag Flurstück 17");
    let r = add_letter(&s, "bau2.txt", "Nachtrag zu Flurstück 17\n");
    assert_eq!(r["place"]["aktenzeichen"], only.as_str(), "{r:#}");

    // `akten classify` explains without changing anything.
    let before = s.audit_state();
    let out = s.ok(["classify", &id]);
    assert!(out.contains("akten would file it to Akte") && out.contains("by rule"), "{out}");
    assert_eq!(s.audit_state(), before);
    s.verify_clean();
}

#[test]
fn posteingang_file_forward_and_discard_are_audited_and_in_the_log() {
    let s = store();
    let az = s.open_akte("770.01", "Baumschutz allgemein");
    let a = add_letter(&s, "a.txt", "Anfrage zu einer Linde im Garten\n");
    let b = add_letter(&s, "b.txt", "Werbung: Gartenmöbel zum halben Preis\n");
    let c = add_letter(&s, "c.txt", "Post für Herrn Müller, privat\n");
    let d = add_letter(&s, "d.txt", "Hundesteuer Anmeldung\n");
    let e = add_letter(&s, "e.txt", "Ein Bauantrag ohne Flurstück\n");
    let [a, b, c, d, e] = [&a, &b, &c, &d, &e].map(|r| r["doc"]["id"].as_str().unwrap().to_string());

    // Forward: the item leaves one office's list for another's.
    assert!(item(&s.json(["posteingang", "list"]), &a)["unit"].is_null());
    let out = s.ok(["posteingang", "forward", &a, "--unit", "Grünflächenamt", "--note", "Baumschutzsatzung"]);
    assert!(out.contains("to unit 67 (Grünflächenamt)"), "{out}");
    let for_67 = s.json(["posteingang", "list", "--unit", "67"]);
    assert_eq!(for_67["documents"].as_array().unwrap().len(), 1, "{for_67:#}");
    assert_eq!(for_67["documents"][0]["id"], a.as_str());
    assert_eq!(for_67["documents"][0]["forwarded"][0]["note"], "Baumschutzsatzung");
    let for_20 = s.json(["posteingang", "list", "--unit", "20"]);
    assert!(for_20["documents"].as_array().unwrap().iter().all(|x| x["id"] != a.as_str()));
    let bad = s.run(["posteingang", "forward", &a, "--unit", "99"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("no organisational unit '99'") && bad.stderr.contains("67 (Grünflächenamt)"),
        "{}",
        bad.stderr
    );

    // File to an Akte.
    let out = s.ok(["posteingang", "file", &a, "--to", &az]);
    assert!(out.contains(&format!("to Akte {az}")), "{out}");
    assert_eq!(s.json(["show", &a])["place"]["aktenzeichen"], az.as_str());
    let again = s.run(["posteingang", "file", &a, "--to", &az]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("not in the Posteingang"), "{}", again.stderr);

    // Accept the top suggestion (a rule at a yearly collective position).
    let list = s.json(["posteingang", "list"]);
    let top = &item(&list, &d)["suggestions"][0];
    assert_eq!(top["position"], "020.01", "{top:#}");
    let filed = s.json(["posteingang", "file", &d, "--accept"]);
    assert_eq!(filed["opened"]["position"], "020.01", "{filed:#}");
    assert_eq!(filed["followed_suggestion"], true);

    // A new Akte for an item.
    let filed = s.json(["posteingang", "file", &e, "--new-akte", "610.07", "--title", "Bauantrag Neubau Kita"]);
    assert_eq!(filed["opened"]["title"], "Bauantrag Neubau Kita");
    assert_eq!(filed["to"]["aktenzeichen"], filed["opened"]["aktenzeichen"]);

    // Discard: off the Posteingang, onto the discard list, audited.
    let empty = s.run(["posteingang", "discard", &b, "--reason", " "]);
    assert_eq!(empty.code, 2);
    assert!(empty.stderr.contains("say why"), "{}", empty.stderr);
    let out = s.ok(["posteingang", "discard", &b, "--reason", "Werbung"]);
    assert!(out.contains("discarded") && out.contains("Werbung"), "{out}");
    let list = s.json(["posteingang", "list"]);
    assert!(list["documents"].as_array().unwrap().iter().all(|x| x["id"] != b.as_str()));
    let discarded = s.json(["posteingang", "list", "--discarded"]);
    assert_eq!(item(&discarded, &b)["discarded"]["reason"], "Werbung");
    let moved = s.run(["move", &b, "--to", &az]);
    assert_eq!(moved.code, 2, "a discarded item cannot be refiled: {}", moved.stdout);

    // Every decision is in the log, store-wide and per document.
    let all = actions(&s, None);
    for action in ["posteingang.forward", "posteingang.file", "posteingang.discard"] {
        assert!(all.iter().any(|x| x == action), "{action} missing from {all:?}");
    }
    assert_eq!(actions(&s, Some(&a)), vec!["dokument.add", "posteingang.forward", "posteingang.file"]);
    assert_eq!(actions(&s, Some(&b)), vec!["dokument.add", "posteingang.discard"]);
    let human = s.ok(["log", &a]);
    assert!(human.contains("posteingang.forward") && human.contains("posteingang.file"), "{human}");

    // Disposal after the keep period: nothing is due yet; with a keep period
    // of 0 days the discarded item goes, and the log keeps what it was.
    let dry = s.json(["posteingang", "dispose"]);
    assert_eq!(dry["disposed"].as_array().unwrap().len(), 0);
    assert_eq!(dry["waiting"], 1);
    let config = std::fs::read_to_string(s.path.join("akten.toml")).unwrap();
    std::fs::write(s.path.join("akten.toml"), config.replace("discard_keep_days = 90", "discard_keep_days = 0"))
        .unwrap();
    s.ok(["posteingang", "discard", &c, "--reason", "privat, fehlgeleitet"]);
    let preview = s.json(["posteingang", "dispose", "--dry-run"]);
    assert_eq!(preview["disposed"].as_array().unwrap().len(), 1, "{preview:#}");
    assert_eq!(preview["disposed"][0]["doc"], c.as_str());
    let done = s.json(["posteingang", "dispose"]);
    assert_eq!(done["disposed"][0]["reason"], "privat, fehlgeleitet");
    assert_eq!(s.run(["show", &c]).code, 2, "a disposed document is gone");
    let log = s.json(["log", "--limit", "1"]);
    let last = &log["entries"][0]["event"];
    assert_eq!(last["action"], "dokument.dispose");
    assert!(last["changes"].to_string().contains("privat, fehlgeleitet"), "{last:#}");
    s.verify_clean();
}

/// Letters of two offices with their own vocabulary.
fn tree_letter(n: usize) -> String {
    let trees = ["Linde", "Eiche", "Ahorn", "Kastanie", "Buche"];
    format!(
        "Antrag auf Fällung einer {} im Garten, Stammumfang {} cm, Baumschutzsatzung, Ersatzpflanzung, Gutachten zur Standsicherheit des Baumes\n",
        trees[n % trees.len()],
        80 + n
    )
}

fn building_letter(n: usize) -> String {
    let things = ["Garage", "Carport", "Anbau", "Dachgaube", "Wintergarten"];
    format!(
        "Bauantrag für eine {} mit Lageplan, Bauzeichnungen, Baubeschreibung und Statik, Grundstück Hauptstraße {}\n",
        things[n % things.len()],
        n + 1
    )
}

#[test]
fn the_model_learns_from_filings_by_people_and_is_rebuilt_from_the_catalog() {
    let s = store();
    let trees = s.open_akte("770.01", "Baumschutz 2026");
    let bau = s.open_akte("610.07", "Bauanträge Hauptstraße");
    for n in 0..8 {
        s.add(&s.file(&format!("baum{n}.txt"), tree_letter(n).as_bytes()), Some(&trees));
        s.add(&s.file(&format!("bau{n}.txt"), building_letter(n).as_bytes()), Some(&bau));
    }
    let trained = s.json(["classify", "train"]);
    assert_eq!(trained["examples"], 16, "{trained:#}");
    assert_eq!(trained["positions"], 2);

    // A new letter: the model's top suggestion is the tree position, with
    // words from the letter as reasons; it waits (model filing is off).
    let r = add_letter(&s, "neu.txt", &tree_letter(11));
    assert_eq!(r["place"]["in"], "posteingang", "{r:#}");
    let id = r["doc"]["id"].as_str().unwrap().to_string();
    let list = s.json(["posteingang", "list"]);
    let top = &item(&list, &id)["suggestions"][0];
    assert_eq!(top["evidence"], "model", "{top:#}");
    assert_eq!(top["position"], "770.01");
    assert_eq!(top["target"]["akte"], trees.as_str(), "the only open Akte there is named: {top:#}");
    assert_eq!(item(&list, &id)["unit"], "67");

    // Filing it by a person counts as a training example; the model on
    // disk follows without a full rebuild.
    s.ok(["posteingang", "file", &id, "--accept"]);
    let c = s.json(["classify", &id]);
    assert_eq!(c["model_examples"], 17, "{c:#}");

    // Automatic filing by the model, switched on for the position.
    append_config(&s, "\n[[classify.auto]]\nposition = \"770.01\"\nmodel = true\nthreshold = 0.5\n");
    let r = add_letter(&s, "auto.txt", &tree_letter(12));
    assert_eq!(r["filing"]["by"], "model", "{r:#}");
    assert_eq!(r["place"]["aktenzeichen"], trees.as_str());
    // ... which is not a filing by a person: the model does not learn it.
    let c = s.json(["classify", r["doc"]["id"].as_str().unwrap()]);
    assert_eq!(c["model_examples"], 17, "{c:#}");

    // Derived state: a lost or damaged model file is rebuilt from the catalog.
    let model = s.path.join("classifier/model.bin");
    std::fs::write(&model, b"garbage").unwrap();
    let c = s.json(["classify", &id]);
    assert_eq!(c["model_examples"], 17, "{c:#}");
    assert_eq!(c["classification"]["suggestions"][0]["position"], "770.01");
    std::fs::remove_file(&model).unwrap();
    let file = s.file("probe.txt", building_letter(20).as_bytes());
    let c = s.json(["classify".as_ref(), file.as_os_str()]);
    assert_eq!(c["classification"]["suggestions"][0]["position"], "610.07", "{c:#}");
    assert!(model.exists(), "the rebuilt model is written back");
    s.verify_clean();
}

#[test]
fn the_mailroom_classifies_letters_without_a_cover_sheet() {
    let s = store();
    let config = std::fs::read_to_string(s.path.join("akten.toml")).unwrap();
    std::fs::write(s.path.join("akten.toml"), config.replace("stable_secs = 5", "stable_secs = 0")).unwrap();
    let az = s.open_akte("610.07", "Bauantrag Gartenstraße 4");
    let inbox = s.path.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let cited = format!("Architekturbüro Weber\nIhr Zeichen: {az}\nUnser Zeichen: W-17\nStatik anbei.");
    std::fs::write(inbox.join("statik.pdf"), crate::pdfgen::pdf(&[crate::pdfgen::Page::Text(cited)])).unwrap();
    let theirs = format!("Stadtwerke\nUnser Zeichen: {az}\nHausanschluss.");
    std::fs::write(inbox.join("anschluss.pdf"), crate::pdfgen::pdf(&[crate::pdfgen::Page::Text(theirs)])).unwrap();
    let out = s.ok(["intake", "run"]);
    assert!(out.contains("statik.pdf (inbox): ") && out.contains(&format!("Akte {az}")), "{out}");

    let akte = s.json(["akte", "show", &az]);
    let filed = &akte["documents"][0];
    assert_eq!(filed["title"], "statik", "{akte:#}");
    let doc = s.json(["show", filed["id"].as_str().unwrap()]);
    assert_eq!(doc["doc"]["filing"]["by"], "citation", "{doc:#}");
    assert_eq!(doc["doc"]["versions"][0]["scan"]["routed_by"], "citation");
    assert_eq!(doc["doc"]["external_reference"], "W-17");

    let list = s.json(["posteingang", "list"]);
    assert_eq!(list["documents"].as_array().unwrap().len(), 1, "{list:#}");
    assert_eq!(list["documents"][0]["title"], "anschluss");
    assert_eq!(list["documents"][0]["external_reference"], az.as_str());
    s.verify_clean();
}
