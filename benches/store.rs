//! `add` against copying the same files and syncing, and against hashing
//! them alone, measured in one run (criterion).
//!
//! 500 files of 100 KiB per iteration; every iteration files them into a
//! fresh store through the engine (blob write protocol and catalog commit
//! included). `scripts/bench-add.py` does the same with the real binary and
//! 10,000 files.

use std::path::{Path, PathBuf};

use akten::engine::{Engine, PlanSource, Request};
use akten::model::{Actor, DocKind};
use akten::store::Config;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const FILES: usize = 500;
const SIZE: usize = 100 * 1024;

fn make_files(dir: &Path) -> Vec<PathBuf> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..FILES)
        .map(|i| {
            let mut bytes = Vec::with_capacity(SIZE);
            while bytes.len() < SIZE {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            let path = dir.join(format!("scan-{i:05}.pdf"));
            std::fs::write(&path, &bytes).unwrap();
            path
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let input = tempfile::tempdir().unwrap();
    let files = make_files(input.path());
    let actor = Actor::new("bench");
    let mut group = c.benchmark_group("add_500_files_of_100KiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes((FILES * SIZE) as u64));

    group.bench_function("akten_add", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (mut engine, _) =
                    Engine::init(&dir.path().join("store"), PlanSource::Bundled, Config::new(), &actor, "bench")
                        .unwrap();
                let _ = engine.handle(Request::AkteOpen { position: "000.04".into(), title: "Bench".into() }, &actor);
                (dir, engine)
            },
            |(dir, mut engine)| {
                let request = Request::Add {
                    files: files.clone(),
                    target: None,
                    title: None,
                    kind: DocKind::Eingang,
                    received: None,
                    allow_duplicate: false,
                    sender: None,
                    date: None,
                };
                engine.handle(request, &actor).unwrap();
                (dir, engine)
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("copy_then_sync", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |dir| {
                for f in &files {
                    std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
                }
                // SAFETY: sync(2) has no preconditions.
                unsafe { libc::sync() };
                dir
            },
            BatchSize::PerIteration,
        )
    });

    group.bench_function("hash_only", |b| {
        b.iter(|| {
            for f in &files {
                let mut hasher = blake3::Hasher::new();
                let mut file = std::fs::File::open(f).unwrap();
                std::io::copy(&mut file, &mut hasher).unwrap();
                std::hint::black_box(hasher.finalize());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
