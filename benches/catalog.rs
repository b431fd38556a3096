//! Catalog benchmark: insert and lookup rates, open time and size on disk
//! at 100k and 1M documents, and size after a churn of updates.
//!
//! Runs the real catalog (`akten::catalog` on redb and on sled) with synthetic but
//! realistic records: every document is written the way `add` writes it
//! (record, location and blob indexes, one audit event), 1,000 documents per
//! flushed commit. Prints a Markdown table.
//!
//!     cargo bench --bench catalog                 # 100k and 1M, redb and sled
//!     AKTEN_BENCH_DOCS=20000 AKTEN_BENCH_ENGINES=redb cargo bench --bench catalog

use std::path::Path;
use std::time::{Duration, Instant};

use akten::audit::{Change, NewEvent, ObjectKind, ObjectRef};
use akten::catalog::{Catalog, CatalogEngine};
use akten::model::{
    Actor, Akte, AkteId, Aktenzeichen, BlobId, DocId, DocKind, Dokument, Kennzeichen, Location, OrgUnit, Retention,
    Version,
};
use jiff::Timestamp;

const BATCH: usize = 1000;
const AKTEN: usize = 1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() { dir_size(&entry.path()) } else { meta.len() };
    }
    total
}

fn doc(i: usize, akte: AkteId, now: Timestamp) -> Dokument {
    let blob = BlobId::from_hash(blake3::hash(&i.to_le_bytes()));
    Dokument {
        id: DocId::new_random(),
        title: format!("Antrag auf Erteilung einer Baugenehmigung Nr. {i}"),
        kind: DocKind::Eingang,
        received: jiff::civil::date(2026, 12, 4),
        location: Location::Akte { akte },
        channel: "mailroom".into(),
        sender: None,
        date: None,
        created_at: now,
        external_reference: None,
        filing: None,
        versions: vec![Version {
            number: 1,
            blob,
            file_name: format!("scan-{i:07}.pdf"),
            media_type: "application/pdf".into(),
            size: 100 * 1024,
            added_at: now,
            added_by: Actor::new("poststelle"),
            text: None,
            scan: None,
        }],
    }
}

fn event(doc: &Dokument, now: Timestamp) -> NewEvent {
    NewEvent {
        at: now,
        actor: Actor::new("poststelle"),
        action: "dokument.add".into(),
        object: ObjectRef { kind: ObjectKind::Dokument, id: doc.id.to_string(), label: Some(doc.title.clone()) },
        related: vec![],
        changes: vec![
            Change::new("ort", None::<String>, "Akte 610.07-0001/2026"),
            Change::new("blob", None::<String>, doc.current().blob.to_hex()),
        ],
    }
}

/// Peak and current resident memory of this process, in MiB (Linux).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}/s", n as f64 / d.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Opens 1,000 Akten and writes `n` documents the way `add` does, 1,000
/// per commit. Returns the Akten and the document ids.
fn fill(catalog: &Catalog, n: usize, rng: &mut Rng, now: Timestamp) -> (Vec<Akte>, Vec<DocId>) {
    let position = Kennzeichen::parse("610.07").unwrap();
    let mut akten = Vec::with_capacity(AKTEN);
    let mut txn = catalog.txn().unwrap();
    for i in 0..AKTEN {
        let akte = Akte {
            id: AkteId::new_random(),
            aktenzeichen: Aktenzeichen::new(format!("610.07-{:04}/2026", i + 1)),
            position: position.clone(),
            title: format!("Bauvorhaben Flurstück {i}"),
            unit: OrgUnit::new("63"),
            opened_at: now,
            year: 2026,
            number: i as u32 + 1,
            retention: Retention::Unlimited,
            disposal: akten::model::Disposal::B,
            zda: None,
            next_vorgang: 1,
        };
        txn.put_akte(&akte, None);
        akten.push(akte);
    }
    txn.commit().unwrap();
    let mut ids = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let mut txn = catalog.txn().unwrap();
        for _ in 0..BATCH.min(n - i) {
            let akte = akten[(rng.next() as usize) % AKTEN].id;
            let d = doc(i, akte, now);
            txn.put_doc(&d, None);
            txn.record(event(&d, now));
            ids.push(d.id);
            i += 1;
        }
        txn.commit().unwrap();
    }
    (akten, ids)
}

const CRASH_CHILD_ENV: &str = "AKTEN_BENCH_CRASH_CHILD";

/// The first open after a crash: a child process fills a catalog and dies
/// without closing it (abort), then this process opens it.
fn open_after_crash(engine: CatalogEngine, n: usize) {
    let base = std::env::var_os("AKTEN_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = dir.path().join("catalog");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CRASH_CHILD_ENV, format!("{engine}:{n}:{}", path.display()))
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child was meant to abort");
    let started = Instant::now();
    let catalog = Catalog::open(&path, engine).unwrap();
    let open = started.elapsed();
    let docs = catalog.docs().unwrap().len();
    assert_eq!(docs, n, "every committed document survived the crash");
    println!("| {engine} | {n} | {:.0} ms (all {docs} committed documents present) |", open.as_secs_f64() * 1000.0);
}

fn crash_child(spec: &str) -> ! {
    let mut parts = spec.splitn(3, ':');
    let engine: CatalogEngine = parts.next().unwrap().parse().unwrap();
    let n: usize = parts.next().unwrap().parse().unwrap();
    let path = std::path::PathBuf::from(parts.next().unwrap());
    let catalog = Catalog::create(&path, engine).unwrap();
    fill(&catalog, n, &mut Rng(0x1234_5678_9abc_def1), Timestamp::now());
    std::process::abort();
}

fn run(engine: CatalogEngine, n: usize) {
    let base = std::env::var_os("AKTEN_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).unwrap();
    let path = dir.path().join("catalog");
    let now = Timestamp::now();
    let mut rng = Rng(0x1234_5678_9abc_def1);

    let catalog = Catalog::create(&path, engine).unwrap();
    let started = Instant::now();
    let (akten, ids) = fill(&catalog, n, &mut rng, now);
    let insert = started.elapsed();
    let (peak_insert, _) = memory();
    eprintln!("{engine}: {n} docs inserted in {:.1} s, peak RSS {peak_insert} MiB", insert.as_secs_f64());
    let sled_size = catalog.size_on_disk().unwrap();
    drop(catalog);
    let size_after_insert = dir_size(&path);

    let started = Instant::now();
    let catalog = Catalog::open(&path, engine).unwrap();
    let open = started.elapsed();
    let (_, rss_open) = memory();
    eprintln!("reopened in {:.0} ms, RSS after open {rss_open} MiB", open.as_secs_f64() * 1000.0);

    let lookups = 100_000;
    let started = Instant::now();
    for _ in 0..lookups {
        let id = ids[(rng.next() as usize) % ids.len()];
        assert!(catalog.doc(&id).unwrap().is_some());
    }
    let doc_lookup = started.elapsed();
    let started = Instant::now();
    for _ in 0..lookups {
        let a = &akten[(rng.next() as usize) % AKTEN];
        assert!(catalog.akte_by_az(a.aktenzeichen.as_str()).unwrap().is_some());
    }
    let az_lookup = started.elapsed();
    let listings = 200;
    let started = Instant::now();
    let mut listed = 0;
    for _ in 0..listings {
        let a = &akten[(rng.next() as usize) % AKTEN];
        listed += catalog.docs_in(&Location::Akte { akte: a.id }).unwrap().len();
    }
    let listing = started.elapsed();

    // Churn: three rounds of moving half the documents to another Akte.
    let started = Instant::now();
    let mut updates = 0;
    for _ in 0..3 {
        for chunk in ids.chunks(BATCH) {
            let mut txn = catalog.txn().unwrap();
            for id in chunk {
                if rng.next().is_multiple_of(2) {
                    continue;
                }
                let old = catalog.doc(id).unwrap().unwrap();
                let mut new = old.clone();
                new.location = Location::Akte { akte: akten[(rng.next() as usize) % AKTEN].id };
                txn.put_doc(&new, Some(&old));
                updates += 1;
            }
            txn.commit().unwrap();
        }
    }
    let churn = started.elapsed();
    drop(catalog);
    let size_after_churn = dir_size(&path);
    let mut catalog = Catalog::open(&path, engine).unwrap();
    let started = Instant::now();
    let (_, compacted) = catalog.compact().unwrap();
    let compaction = started.elapsed();
    drop(catalog);
    let started = Instant::now();
    let catalog = Catalog::open(&path, engine).unwrap();
    let reopen_after_churn = started.elapsed();
    drop(catalog);
    let (peak, _) = memory();

    println!(
        "| {engine} | {n} | {} ({:.1} s) | {} (engine says {}) | {:.0} ms | {} | {} | {} ({:.2} ms, {} docs each) | {} ({:.1} s) | {} | {} in {:.1} s | {:.0} ms | {peak_insert} MiB / {rss_open} MiB / {peak} MiB |",
        rate(n, insert),
        insert.as_secs_f64(),
        mib(size_after_insert),
        mib(sled_size),
        open.as_secs_f64() * 1000.0,
        rate(lookups, doc_lookup),
        rate(lookups, az_lookup),
        rate(listings, listing),
        listing.as_secs_f64() * 1000.0 / listings as f64,
        listed / listings,
        rate(updates, churn),
        churn.as_secs_f64(),
        mib(size_after_churn),
        mib(compacted),
        compaction.as_secs_f64(),
        reopen_after_churn.as_secs_f64() * 1000.0,
    );
    eprintln!("{engine}: {n} docs: bytes on disk per doc ~{} (record + indexes + event)", size_after_insert / n as u64);
}

fn main() {
    if let Ok(spec) = std::env::var(CRASH_CHILD_ENV) {
        crash_child(&spec);
    }
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing to
    // run: keep that cheap.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        run(CatalogEngine::Redb, 2_000);
        run(CatalogEngine::Sled, 2_000);
        open_after_crash(CatalogEngine::Redb, 2_000);
        open_after_crash(CatalogEngine::Sled, 2_000);
        return;
    }
    let sizes: Vec<usize> = std::env::var("AKTEN_BENCH_DOCS")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("AKTEN_BENCH_DOCS: comma-separated counts"))
        .collect();
    println!(
        "| engine | documents | insert (1,000 per flushed commit) | size on disk | open | doc lookup | Aktenzeichen lookup | list an Akte | churn: 3 × move 50 % | size after churn | compacted | reopen after churn | RSS: peak in insert / after open / peak overall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let engines: Vec<CatalogEngine> = std::env::var("AKTEN_BENCH_ENGINES")
        .unwrap_or_else(|_| "redb,sled".into())
        .split(',')
        .map(|e| e.trim().parse().unwrap_or_else(|err| panic!("AKTEN_BENCH_ENGINES: {err}")))
        .collect();
    // AKTEN_BENCH_ONLY_CRASH=1 measures only the open after a crash.
    if std::env::var_os("AKTEN_BENCH_ONLY_CRASH").is_none() {
        for &n in &sizes {
            for &engine in &engines {
                run(engine, n);
            }
        }
    }
    println!("\n| engine | documents | first open after a crash (writer aborted without closing) |");
    println!("|---|---|---|");
    for &n in &sizes {
        for &engine in &engines {
            open_after_crash(engine, n);
        }
    }
}
