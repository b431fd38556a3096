//! Full-text search through the real binary, on the letters in
//! fixtures/suche: German folding and stemming, compounds, query syntax,
//! filters, typo tolerance, snippets, facets, the JSON shape, and the index
//! as derived data (deleted, rebuilt, disagreeing with the catalog).

use std::path::Path;

use serde_json::Value;

use crate::util::TestStore;

/// A store with the four fixture letters: A in an Akte under 610.07, B under
/// 610.09, C under 020.01, D in the Posteingang.
struct Letters {
    store: TestStore,
    a: String,
    b: String,
    c: String,
    d: String,
    az_a: String,
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/suche").join(name)
}

fn letters() -> Letters {
    let store = TestStore::new();
    let az_a = store.open_akte("610.07", "Lindenallee 5, Carport");
    let az_b = store.open_akte("610.09", "Hauptstraße 12, Gerüst");
    let az_c = store.open_akte("020.01", "Gebühren Straßenreinigung");
    let add = |file: &str, to: Option<&str>, received: &str, sender: &str| -> String {
        let mut args: Vec<String> = vec!["add".into(), fixture(file).display().to_string()];
        if let Some(to) = to {
            args.extend(["--to".into(), to.into()]);
        }
        args.extend(["--received".into(), received.into(), "--sender".into(), sender.into()]);
        let v = store.json(&args);
        assert_eq!(v["results"][0]["outcome"], "added", "{v:#}");
        assert_eq!(v["results"][0]["doc"]["text"]["status"], "ok", "{v:#}");
        v["results"][0]["doc"]["id"].as_str().unwrap().to_string()
    };
    let a = add("a-bauantrag-carport.txt", Some(&az_a), "2026-03-10", "Erika Müller");
    let b = add("b-sondernutzung-strasse.txt", Some(&az_b), "2026-05-20", "Hans Mueller");
    let c = add("c-widerspruch-gebuehren.txt", Some(&az_c), "2026-08-01", "Karl Schmidt");
    let d = add("d-fundsache-schirm.txt", None, "2026-11-02", "Bürgerbüro");
    Letters { store, a, b, c, d, az_a }
}

impl Letters {
    fn search(&self, args: &[&str]) -> Value {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        self.store.json(&all)
    }

    /// The ids of the hits, best first.
    fn ids(&self, args: &[&str]) -> Vec<String> {
        hits(&self.search(args))
    }

    fn name(&self, id: &str) -> &'static str {
        match id {
            x if x == self.a => "A",
            x if x == self.b => "B",
            x if x == self.c => "C",
            x if x == self.d => "D",
            _ => "?",
        }
    }

    fn names(&self, args: &[&str]) -> Vec<&'static str> {
        self.ids(args).iter().map(|id| self.name(id)).collect()
    }

    fn sorted_names(&self, args: &[&str]) -> Vec<&'static str> {
        let mut n = self.names(args);
        n.sort();
        n
    }
}

fn hits(v: &Value) -> Vec<String> {
    v["hits"].as_array().unwrap().iter().map(|h| h["doc"].as_str().unwrap().to_string()).collect()
}

#[test]
fn german_search_on_the_fixture_letters() {
    let l = letters();

    // Umlauts and ß folded both ways.
    assert_eq!(l.names(&["Straße"])[0], "B", "Straße finds Strasse first");
    assert_eq!(l.names(&["strasse"])[0], "B");
    assert_eq!(l.sorted_names(&["Müller"]), ["A", "B"], "Müller finds Mueller");
    assert_eq!(l.sorted_names(&["mueller"]), ["A", "B"], "Mueller finds Müller");
    assert_eq!(l.names(&["Gebuehren"]), ["C"]);

    // Stemming: singular finds plural and back.
    assert_eq!(l.names(&["Anträge"])[0], "B");
    assert_eq!(l.names(&["carport"]), ["A"], "carport finds Carports");

    // Compounds: the exact word ranks first, then words ending with it
    // (Bauantrag) and words beginning with it (Antragsteller).
    let antrag = l.names(&["antrag"]);
    assert_eq!(antrag[0], "B", "{antrag:?}");
    assert_eq!(l.sorted_names(&["antrag"]), ["A", "B", "C"]);
    assert_eq!(l.names(&["schirm"]), ["D"], "suffix: Regenschirm");
    assert_eq!(l.names(&["bürger"]), ["D"], "prefix: Bürgerbüro");
    assert_eq!(l.names(&["bescheid"]), ["C"], "suffix: Gebührenbescheid");

    // Phrases (stop words inside kept in place) and word order.
    assert_eq!(l.names(&["\"Sondernutzung der Strasse\""]), ["B"]);
    assert!(l.names(&["\"Strasse der Sondernutzung\""]).is_empty());

    // Boolean operators.
    assert_eq!(l.names(&["widerspruch", "AND", "gebühren"]), ["C"]);
    assert_eq!(l.sorted_names(&["widerspruch", "OR", "fundsache"]), ["C", "D"]);
    assert_eq!(l.sorted_names(&["antrag -carport"]), ["B", "C"]);
    assert_eq!(l.sorted_names(&["antrag NOT carport"]), ["B", "C"]);
    assert_eq!(l.names(&["sender:müller", "carport"]), ["A"], "field query");
    // Several words: exact forms first, compounds when those find little
    // (only "Antragsteller" goes with "Gebühren").
    assert_eq!(l.names(&["antrag", "gebühren"]), ["C"]);

    // Filters: date of receipt, plan subtree, Akte, kind.
    assert_eq!(l.names(&["antrag", "--from", "2026-05-01", "--to", "30.06.2026"]), ["B"]);
    assert_eq!(l.sorted_names(&["antrag", "--plan", "610"]), ["A", "B"], "subtree 610");
    assert_eq!(l.names(&["antrag", "--plan", "610.07"]), ["A"]);
    assert_eq!(l.names(&["antrag", "--akte", &l.az_a]), ["A"]);
    assert!(l.names(&["antrag", "--kind", "ausgang"]).is_empty());

    // An Aktenzeichen typed as the query finds the Akte's documents.
    assert_eq!(l.names(&[&l.az_a]), ["A"]);

    // One typo is forgiven when the exact search finds little, and said so.
    let typo = l.search(&["Widersprch"]);
    assert_eq!(typo["fuzzy"], true, "{typo:#}");
    assert_eq!(hits(&typo).iter().map(|id| l.name(id)).collect::<Vec<_>>(), ["C"]);
    let exact = l.search(&["widerspruch"]);
    assert_eq!(exact["fuzzy"], false);

    // Snippets mark what matched, in JSON and as text.
    let v = l.search(&["Sondernutzung"]);
    let snippet = &v["hits"][0]["snippet"];
    let text = snippet["text"].as_str().unwrap();
    let (s, e) = (snippet["marks"][0][0].as_u64().unwrap() as usize, snippet["marks"][0][1].as_u64().unwrap() as usize);
    assert_eq!(&text[s..e], "Sondernutzung", "{snippet:#}");
    let out = l.store.ok(["search", "bürger"]);
    assert!(out.contains("*Bürgerbüro*"), "{out}");
    let out = l.store.ok(["search", "antrag"]);
    assert!(out.contains("3 documents match \"antrag\""), "{out}");
    assert!(out.contains("*Bauantrag*") && out.contains("*Antragsteller*"), "{out}");

    // Facets: hits per plan position (the Posteingang has none).
    let v = l.search(&["antrag", "--facets"]);
    let facets: Vec<(String, u64)> = v["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["position"].as_str().unwrap().to_string(), f["count"].as_u64().unwrap()))
        .collect();
    let mut facets = facets;
    facets.sort();
    assert_eq!(facets, [("020.01".to_string(), 1), ("610.07".to_string(), 1), ("610.09".to_string(), 1)]);
    let out = l.store.ok(["search", "antrag", "--facets"]);
    assert!(out.contains("by plan position:") && out.contains("610.07"), "{out}");

    // The JSON shape.
    let v = l.search(&["carport", "--limit", "5"]);
    assert_eq!(v["type"], "search");
    assert_eq!(v["query"], "carport");
    assert_eq!(v["total"], 1);
    let hit = &v["hits"][0];
    for key in ["doc", "title", "aktenzeichen", "position", "kind", "channel", "received", "score", "snippet"] {
        assert!(hit.get(key).is_some(), "hit has no {key}: {hit:#}");
    }
    assert_eq!(hit["aktenzeichen"], l.az_a.as_str());
    assert_eq!(hit["position"], "610.07");
    assert_eq!(hit["received"], "2026-03-10");
    assert_eq!(hit["title"], "a-bauantrag-carport");
}

#[test]
fn bad_search_input_gets_clear_errors() {
    let l = letters();
    let run = l.store.run(["search", "antrag", "--plan", "999.99"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("999.99 is not in the Aktenplan"), "{}", run.stderr);
    let run = l.store.run(["search", "antrag", "--from", "2026-12-01", "--to", "2026-01-01"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is after --to"), "{}", run.stderr);
    let run = l.store.run(["search", "antrag", "--akte", "000.00-9999/1999"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no Akte"), "{}", run.stderr);
    // Unbalanced syntax is read leniently, not refused.
    assert_eq!(l.names(&["\"Sondernutzung der"]).first(), Some(&"B"));
}

#[test]
fn the_index_is_derived_data() {
    let l = letters();
    let queries: &[&[&str]] =
        &[&["antrag"], &["Straße"], &["\"Sondernutzung der Strasse\""], &["Widersprch"], &["bürger"]];
    let before: Vec<Vec<String>> = queries.iter().map(|q| l.ids(q)).collect();

    // Deleted: the next command rebuilds it from the catalog, same answers.
    std::fs::remove_dir_all(l.store.path.join("index")).unwrap();
    let after: Vec<Vec<String>> = queries.iter().map(|q| l.ids(q)).collect();
    assert_eq!(before, after);
    l.store.verify_clean();

    // Damaged beyond opening: rebuilt the same way.
    std::fs::write(l.store.path.join("index/meta.json"), b"{ not json").unwrap();
    let damaged: Vec<Vec<String>> = queries.iter().map(|q| l.ids(q)).collect();
    assert_eq!(before, damaged);

    // An index that disagrees with the catalog (another store's, with other
    // document ids and more changes) is reported by verify, per document,
    // and reindex repairs it.
    let other = TestStore::new();
    for i in 0..5 {
        other.add(&other.file(&format!("{i}.txt"), format!("Notiz Nummer {i}").as_bytes()), None);
    }
    std::fs::remove_dir_all(l.store.path.join("index")).unwrap();
    copy_dir(&other.path.join("index"), &l.store.path.join("index"));
    let run = l.store.run(["--json", "verify"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let problems: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["object"].as_str().unwrap(), f["problem"].as_str().unwrap()))
        .collect();
    for id in [&l.a, &l.b, &l.c, &l.d] {
        assert!(
            problems.iter().any(|p| p.contains(id.as_str()) && p.contains("missing from the search index")),
            "{problems:#?}"
        );
    }
    assert!(problems.iter().any(|p| p.contains("in the search index but not in the catalog")), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("belongs to another store")), "{problems:#?}");
    let out = l.store.ok(["reindex"]);
    assert!(out.contains("rebuilt the search index: 4 documents"), "{out}");
    l.store.verify_clean();
    let rebuilt: Vec<Vec<String>> = queries.iter().map(|q| l.ids(q)).collect();
    assert_eq!(before, rebuilt);

    // Moving a document updates its place in the index.
    let az_c = l.store.json(["show", &l.c])["place"]["aktenzeichen"].as_str().unwrap().to_string();
    l.store.ok(["move", &l.a, "--to", &az_c]);
    assert!(l.names(&["carport", "--plan", "610"]).is_empty());
    assert_eq!(l.names(&["carport", "--plan", "020"]), ["A"]);
    l.store.verify_clean();
}

#[test]
fn similar_documents() {
    let l = letters();
    let extra = l.store.file("e-gebuehren-zwei.txt", "Widerspruch gegen den Gebührenbescheid für die Straßenreinigung, zweiter Teil: die Gebühren sind falsch berechnet.".as_bytes());
    let e = l.store.add(&extra, None);
    let v = l.store.json(["similar", &l.c]);
    let ids = hits(&v);
    assert_eq!(ids.first(), Some(&e), "{v:#}");
    assert!(!ids.contains(&l.c), "a document is not similar to itself");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
