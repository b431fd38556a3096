//! `akten serve` and CLI forwarding: the tour prints the same with and
//! without the daemon; the token guards it; a crashed daemon's files do not
//! get in the way; SIGTERM shuts it down cleanly.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use regex::Regex;
use serde_json::Value;

use crate::util::{Run, TestStore, berlin_year};

/// Replaces what must differ between two stores made the same way: store
/// and temp paths, timestamps, and ids and hashes (random document ids, and
/// with them the audit chain), which are numbered in order of first
/// appearance, so equal outputs have equal ids in the same places.
struct Normaliser {
    paths: Vec<(String, &'static str)>,
    tokens: HashMap<String, usize>,
    time: Regex,
    local_time: Regex,
    hex: Regex,
}

impl Normaliser {
    fn new(s: &TestStore) -> Normaliser {
        let mut paths = Vec::new();
        for (path, name) in [(&s.path, "<store>"), (&s.dir.path().to_path_buf(), "<dir>")] {
            if let Ok(canonical) = path.canonicalize() {
                paths.push((canonical.display().to_string(), name));
            }
            paths.push((path.display().to_string(), name));
        }
        Normaliser {
            paths,
            tokens: HashMap::new(),
            time: Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?(\[[^\]]*\])?").unwrap(),
            local_time: Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?( [+-]\d\d:\d\d)?").unwrap(),
            hex: Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{8,64}\b")
                .unwrap(),
        }
    }

    fn apply(&mut self, text: &str) -> String {
        let mut text = text.to_string();
        for (path, name) in &self.paths {
            text = text.replace(path.as_str(), name);
        }
        let text = self.time.replace_all(&text, "<time>").into_owned();
        let text = self.local_time.replace_all(&text, "<time>").into_owned();
        let mut out = String::new();
        let mut last = 0;
        for m in self.hex.find_iter(&text) {
            out.push_str(&text[last..m.start()]);
            // Digits only too: a short id can be all digits.
            let next = self.tokens.len() + 1;
            let n = *self.tokens.entry(m.as_str().to_string()).or_insert(next);
            out.push_str(&format!("<id{n}>"));
            last = m.end();
        }
        out.push_str(&text[last..]);
        out
    }
}

/// One store and what the tour learned about it.
struct Side {
    store: TestStore,
    norm: Normaliser,
    vars: HashMap<&'static str, String>,
}

impl Side {
    fn new() -> Side {
        let store = TestStore::new();
        let norm = Normaliser::new(&store);
        Side { store, norm, vars: HashMap::new() }
    }

    /// `args` with `{name}` replaced by this side's variables.
    fn args(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|a| {
                let mut a = a.to_string();
                for (name, value) in &self.vars {
                    a = a.replace(&format!("{{{name}}}"), value);
                }
                a
            })
            .collect()
    }

    fn run(&mut self, args: &[&str]) -> (Run, String) {
        let args = self.args(args);
        let run = self.store.run(&args);
        let shown = format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            run.code,
            self.norm.apply(&run.stdout),
            self.norm.apply(&run.stderr)
        );
        (run, shown)
    }
}

/// Store A runs embedded, store B under `akten serve`; every step must
/// print the same (after normalising) and exit the same.
struct Tour {
    a: Side,
    b: Side,
    steps: usize,
}

impl Tour {
    #[track_caller]
    fn step(&mut self, args: &[&str]) -> (Run, Run) {
        self.steps += 1;
        let (run_a, shown_a) = self.a.run(args);
        let (run_b, shown_b) = self.b.run(args);
        assert_eq!(
            shown_a,
            shown_b,
            "step {}: `akten {}` differs (left: embedded, right: akten serve)",
            self.steps,
            args.join(" ")
        );
        (run_a, run_b)
    }

    /// The step in text and in JSON; returns the JSON of both sides.
    #[track_caller]
    fn both(&mut self, args: &[&str]) -> (Value, Value) {
        self.step(args);
        self.json(args)
    }

    /// The step with --json only (for changes, which run once).
    #[track_caller]
    fn json(&mut self, args: &[&str]) -> (Value, Value) {
        let mut with: Vec<&str> = vec!["--json"];
        with.extend_from_slice(args);
        let (a, b) = self.step(&with);
        let parse = |r: &Run| serde_json::from_str::<Value>(&r.stdout).unwrap_or(Value::Null);
        (parse(&a), parse(&b))
    }

    fn set(&mut self, name: &'static str, (a, b): (String, String)) {
        self.a.vars.insert(name, a);
        self.b.vars.insert(name, b);
    }
}

fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {v:#}")).to_string()
}

#[test]
fn tour_prints_the_same_with_and_without_serve() {
    let mut t = Tour { a: Side::new(), b: Side::new(), steps: 0 };
    for side in [&t.a, &t.b] {
        let s = &side.store;
        let plan_v2 = akten::engine::BUNDLED_PLAN.replace("version = \"2026.1\"", "version = \"2026.2\"")
            + "\n[[einheit]]\nkennzeichen = \"000.99\"\ntitel = \"Bürgerhaushalt\"\naufbewahrung = 10\naussonderung = \"B\"\noe = \"10\"\njahres_sammelakte = true\nstichworte = [\"Bürgerhaushalt\"]\n";
        s.file("aktenplan-v2.toml", plan_v2.as_bytes());
        s.file("einladung.pdf", b"%PDF-1.4\nEinladung zur Ratssitzung am 17.12.\n%%EOF\n");
        s.file("protokoll.txt", "Niederschrift der Ratssitzung: Beschlüsse 1-12".as_bytes());
        s.file("einladung-v2.pdf", b"%PDF-1.4\nEinladung (korrigiert)\n%%EOF\n");
        s.file("brief.txt", "Sehr geehrte Damen und Herren, wir beantragen einen Zuschuss.".as_bytes());
        s.file("buergerhaushalt.txt", "Vorschlag zum Bürgerhaushalt: mehr Bänke im Stadtpark".as_bytes());
        s.file("werbung.txt", "Sonderangebot: Büromöbel zum halben Preis".as_bytes());
    }
    let mut served = t.b.store.serve();
    let address = served.info["address"].as_str().unwrap().to_string();
    assert!(address.starts_with("127.0.0.1:"), "{}", served.info);
    assert_eq!(
        served.first_line,
        format!(
            "akten serve: store {}, listening on {address} (pid {}); stop with Ctrl-C or SIGTERM\n",
            t.b.store.path.canonicalize().unwrap().display(),
            served.pid()
        )
    );

    // Inputs are given relative to the client's directory (the server runs in /).
    t.step(&["plan", "import", "files/aktenplan-v2.toml"]);
    t.both(&["plan", "show", "000.99"]);
    let (a, b) = t.json(&["akte", "open", "000.01", "--title", "Ratssitzungen"]);
    t.set("rat", (str_at(&a, "/aktenzeichen"), str_at(&b, "/aktenzeichen")));
    t.step(&["akte", "open", "000.04", "--title", "Vorlagen der Fraktionen"]);
    let vorlagen = format!("000.04-0001/{}", berlin_year());
    t.set("vorlagen", (vorlagen.clone(), vorlagen));
    t.step(&["vorgang", "open", "{rat}", "--title", "Sitzung im Dezember"]);
    t.set("vz", (t.a.args(&["{rat}-1"])[0].clone(), t.b.args(&["{rat}-1"])[0].clone()));
    let (a, b) =
        t.json(&["add", "files/einladung.pdf", "files/protokoll.txt", "--to", "{vz}", "--received", "03.12.2026"]);
    assert_eq!(a["results"][1]["outcome"], "added", "{a:#}");
    t.set("doc", (str_at(&a, "/results/0/doc/id")[..8].to_string(), str_at(&b, "/results/0/doc/id")[..8].to_string()));
    t.step(&["version", "add", "{doc}", "files/einladung-v2.pdf"]);
    t.json(&["move", "{doc}", "--to", "{vorlagen}"]);
    t.both(&["show", "{doc}"]);
    t.both(&["akte", "show", "{rat}"]);
    t.both(&["akte", "list"]);

    // get: to a file (text and JSON), and to stdout.
    t.step(&["get", "{doc}", "--version", "1", "-o", "v1.pdf"]);
    t.json(&["get", "{doc}", "-o", "v2.pdf"]);
    for name in ["v1.pdf", "v2.pdf"] {
        let a = std::fs::read(t.a.store.dir.path().join(name)).unwrap();
        let b = std::fs::read(t.b.store.dir.path().join(name)).unwrap();
        assert_eq!(a, b, "{name}");
    }
    assert_eq!(
        std::fs::read(t.b.store.dir.path().join("v1.pdf")).unwrap(),
        std::fs::read(t.b.store.dir.path().join("files/einladung.pdf")).unwrap()
    );
    let (a, b) = t.step(&["get", "{doc}"]);
    assert_eq!(b.stdout.as_bytes(), std::fs::read(t.b.store.dir.path().join("files/einladung-v2.pdf")).unwrap());
    assert_eq!(a.stdout, b.stdout);
    t.step(&["--json", "get", "{doc}"]);

    // Refusals print the same error and exit 2.
    let (_, b) = t.both(&["akte", "close", "{rat}"]);
    assert!(b["error"]["message"].as_str().unwrap().contains("still has open Vorgänge"), "{b:#}");
    t.step(&["akte", "close", "{rat}", "--with-vorgaenge"]);
    t.json(&["akte", "close", "{vorlagen}"]);
    let (_, b) = t.both(&["add", "files/protokoll.txt", "--to", "{vorlagen}"]);
    assert!(b["error"]["message"].as_str().unwrap().contains("is closed (zdA)"), "{b:#}");
    t.step(&["akte", "reopen", "{vorlagen}"]);
    t.both(&["akte", "show", "000.01-9999/2026"]);
    t.both(&["show", "deadbeef"]);
    let (run, _) = t.step(&["add", "files/missing.txt", "--to", "{vorlagen}"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("error: files/missing.txt: no such file: check the path"), "{}", run.stderr);
    t.json(&["add", "files/brief.txt", "files/missing.txt"]);
    t.both(&["version", "add", "{doc}", "files/missing.txt"]);
    t.both(&["plan", "import", "files/nothing.toml"]);
    t.both(&["get", "{doc}", "--version", "7", "-o", "v7.pdf"]);

    // The Posteingang, a duplicate (exit 1), search, text, log, verify.
    t.json(&["add", "files/brief.txt", "--title", "Antrag auf Zuschuss", "--sender", "Verein e.V."]);
    let (run, _) = t.step(&["add", "files/brief.txt"]);
    assert_eq!(run.code, 1, "a duplicate is a partial failure: {}", run.stdout);
    t.both(&["posteingang", "list"]);
    // Posteingang decisions and classification, forwarded like the rest.
    let (a, b) = t.json(&["add", "files/buergerhaushalt.txt", "files/werbung.txt"]);
    t.set("item", (str_at(&a, "/results/0/doc/id")[..8].to_string(), str_at(&b, "/results/0/doc/id")[..8].to_string()));
    t.set(
        "advert",
        (str_at(&a, "/results/1/doc/id")[..8].to_string(), str_at(&b, "/results/1/doc/id")[..8].to_string()),
    );
    t.both(&["posteingang", "list", "--unit", "10"]);
    t.both(&["classify", "{item}"]);
    t.both(&["classify", "files/buergerhaushalt.txt"]);
    t.both(&["posteingang", "forward", "{item}", "--unit", "Kämmerei", "--note", "zur Prüfung"]);
    t.json(&["posteingang", "file", "{item}", "--accept"]);
    t.json(&["posteingang", "discard", "{advert}", "--reason", "Werbung"]);
    t.both(&["posteingang", "list", "--discarded"]);
    t.both(&["posteingang", "file", "{advert}", "--accept"]);
    t.both(&["posteingang", "dispose", "--dry-run"]);
    t.step(&["classify", "train"]);
    t.both(&["search", "Ratssitzung"]);
    t.both(&["search", "Zuschuss", "--facets"]);
    t.both(&["text", "{doc}"]);
    t.both(&["log", "{vorlagen}"]);
    t.both(&["log", "--limit", "0"]);
    t.both(&["verify"]);

    // Every change under the server was recorded as the client's OS user.
    let log = t.b.store.json(["log", "--limit", "0"]);
    let me = akten::store::current_os_user();
    assert!(log["entries"].as_array().unwrap().iter().all(|e| e["event"]["actor"] == me.as_str()));

    // It was the server that ran them: it still holds the store.
    assert!(served.child.try_wait().unwrap().is_none(), "akten serve is still running");
    let status = served.stop_with(libc::SIGTERM);
    assert!(status.success(), "{status}");
    t.b.store.verify_clean();
}

/// Sends one raw HTTP request to the server; returns the status line and body.
fn raw_request(address: &str, authorization: Option<&str>, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
    write!(
        stream,
        "POST /v1/request HTTP/1.1\r\nHost: {address}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn wrong_token_is_refused_and_changes_nothing() {
    let s = TestStore::new();
    let served = s.serve();
    let address = served.info["address"].as_str().unwrap().to_string();
    let before = s.audit_state();
    let cwd = s.dir.path().display().to_string();
    let open = serde_json::json!({
        "request": { "op": "akte_open", "position": "000.04", "title": "Eingeschleust" },
        "actor": "mallory",
        "cwd": cwd,
    })
    .to_string();
    let token = std::fs::read_to_string(s.path.join("serve.token")).unwrap();
    let wrong = format!("Bearer {}", "0".repeat(64));
    let truncated = format!("Bearer {}", &token[..63]);
    for auth in [None, Some(wrong.as_str()), Some(truncated.as_str()), Some(token.as_str())] {
        let (status, body) = raw_request(&address, auth, &open);
        assert!(status.contains(" 401 "), "{auth:?}: {status}\n{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["kind"], "unauthorized", "{body:#}");
    }
    assert_eq!(s.audit_state(), before, "a refused request changed the store");
    assert!(s.json(["akte", "list"])["akten"].as_array().unwrap().is_empty());

    // The right token works (so the refusals above were about the token).
    let (status, body) = raw_request(&address, Some(&format!("Bearer {token}")), &open);
    assert!(status.contains(" 200 "), "{status}\n{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["response"]["type"], "akte_opened", "{body:#}");
    let log = s.json(["log", "--limit", "1"]);
    assert_eq!(log["entries"][0]["event"]["actor"], "mallory", "the envelope names the actor");
}

#[test]
fn stale_serve_json_after_sigkill_means_embedded_mode() {
    let s = TestStore::new();
    let mut served = s.serve();
    let az = s.open_akte("000.04", "Vorlagen");
    let status = served.stop_with(libc::SIGKILL);
    assert!(!status.success());
    assert!(s.path.join("serve.json").is_file(), "SIGKILL leaves serve.json behind");
    assert!(s.path.join("serve.token").is_file());

    // The pid is gone: embedded, silently.
    let run = s.run(["akte", "show", &az]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    s.add(&s.file("brief.txt", b"Sehr geehrte Damen und Herren"), Some(&az));

    // A live pid whose port refuses connections: embedded too.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let info = serde_json::json!({
        "format": 1, "address": format!("127.0.0.1:{port}"), "pid": std::process::id(), "started": "2026-12-05T00:00:00Z"
    });
    std::fs::write(s.path.join("serve.json"), info.to_string()).unwrap();
    let run = s.run(["akte", "show", &az]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("brief"), "{}", run.stdout);
    s.verify_clean();

    // A new server replaces the stale files.
    let mut served = s.serve();
    assert_ne!(served.info["pid"], info["pid"]);
    s.ok(["akte", "show", &az]);
    assert!(served.stop_with(libc::SIGTERM).success());
}

#[test]
fn sigterm_stops_cleanly_and_releases_the_store() {
    let s = TestStore::new();
    let mut served = s.serve();
    s.open_akte("000.04", "Vorlagen");
    let status = served.stop_with(libc::SIGTERM);
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(!s.path.join("serve.json").exists(), "serve.json removed");
    assert!(!s.path.join("serve.token").exists(), "serve.token removed");
    // The lock is free: the next command runs embedded (it would say "in use" otherwise).
    let run = s.run(["akte", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Vorlagen"), "{}", run.stdout);

    // SIGINT (Ctrl-C) too.
    let mut served = s.serve();
    assert_eq!(served.stop_with(libc::SIGINT).code(), Some(0));
    assert!(!s.path.join("serve.json").exists());
    s.verify_clean();
}

#[test]
fn token_is_private_and_a_locked_store_without_server_says_in_use() {
    let s = TestStore::new();
    let served = s.serve();
    let token = s.path.join("serve.token");
    let mode = std::fs::metadata(&token).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "serve.token mode {mode:o}");
    let text = std::fs::read_to_string(&token).unwrap();
    assert_eq!(text.len(), 64, "{text}");
    assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");

    // Without serve.json the CLI cannot find the server: the lock says who holds the store.
    std::fs::remove_file(s.path.join("serve.json")).unwrap();
    let run = s.run(["akte", "list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is in use by") && run.stderr.contains("serve"), "{}", run.stderr);
    // A second server is refused the same way.
    let run = s.run(["serve"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is in use by"), "{}", run.stderr);
    drop(served);
}

#[test]
fn serve_port_from_config_and_old_configs_load() {
    let s = TestStore::new();
    let config = s.path.join("akten.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let (before, _) = text.split_once("[serve]").expect("init writes a [serve] section");
    // A store made before [serve] existed still opens.
    std::fs::write(&config, before).unwrap();
    s.ok(["akte", "list"]);
    // The address is not configurable.
    std::fs::write(&config, format!("{before}[serve]\naddress = \"0.0.0.0\"\n")).unwrap();
    let run = s.run(["akte", "list"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("address"), "{}", run.stderr);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(&config, format!("{before}[serve]\nport = {port}\n")).unwrap();
    let mut served = s.serve();
    assert_eq!(served.info["address"], format!("127.0.0.1:{port}"));
    s.ok(["akte", "list"]);
    assert!(served.stop_with(libc::SIGTERM).success());
    assert!(!Path::new(&s.path.join("serve.json")).exists());
}

/// Like `add`, `serve` creates the default store when none is given and
/// none exists; commands on the default store then go to it.
#[test]
fn serve_creates_the_default_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("brief.txt"), "Sehr geehrte Damen und Herren").unwrap();
    let akten = |args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::util::BIN);
        cmd.env_remove("AKTEN_STORE").args(args).current_dir(dir.path());
        cmd
    };
    let mut child =
        akten(&["serve"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let info = dir.path().join("akten-data/serve.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !info.is_file() {
        assert!(std::time::Instant::now() < deadline, "akten serve wrote no akten-data/serve.json within 30 s");
        assert!(child.try_wait().unwrap().is_none(), "akten serve exited early");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = akten(&["add", "brief.txt"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "the server, not the client, created the store");
    let out = akten(&["posteingang", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("brief"));
    // SAFETY: kill(2) on the pid of a child we started and still own.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("created a new store at"));
    assert!(!info.exists());
}

/// A command that finds the server's port closed while its process lives
/// (it is shutting down) waits for the store instead of failing "in use".
#[test]
fn command_during_shutdown_waits_for_the_store() {
    let s = TestStore::new();
    let mut served = s.serve();
    s.open_akte("000.04", "Vorlagen");
    // The server as a client sees it between closing its port and exiting.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut info = served.info.clone();
    info["address"] = format!("127.0.0.1:{port}").into();
    std::fs::write(s.path.join("serve.json"), info.to_string()).unwrap();

    let mut client = s
        .cmd(["akte", "list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(client.try_wait().unwrap().is_none(), "the command waits while the server holds the store");
    assert!(served.stop_with(libc::SIGTERM).success());
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Vorlagen"));
}
