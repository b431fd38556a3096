//! A large file is stored and read back streaming: the process never holds
//! it in memory, and the bytes come back identical.

use std::io::Write;

use crate::util::TestStore;

const SIZE: usize = 256 * 1024 * 1024;

/// Runs the command under GNU `time` and returns (exit code, peak RSS in
/// KiB). A child of the test process itself would count the test process's
/// own memory in its peak (fork or vfork share its pages until exec), and
/// other tests running in parallel allocate there; `time` is small, so the
/// peak it reports for its child is the child's own.
fn run_measured(cmd: std::process::Command) -> (i32, i64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = std::process::Command::new("time");
    timed.arg("-f").arg("%M").arg("-o").arg(report.path()).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let status = timed.stdout(std::process::Stdio::null()).status().unwrap();
    let text = std::fs::read_to_string(report.path()).unwrap();
    let kib = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("time wrote {text:?}"));
    (status.code().unwrap_or(-1), kib)
}

#[test]
fn large_file_is_streamed() {
    if !crate::util::need("time", "large_file_is_streamed", "time") {
        return;
    }
    let s = TestStore::new();
    let path = s.dir.path().join("files/grossformat-scan.tif");
    let mut hasher = blake3::Hasher::new();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunk = vec![0u8; 1 << 20];
        for _ in 0..SIZE / chunk.len() {
            for word in chunk.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                word.copy_from_slice(&x.to_le_bytes());
            }
            hasher.update(&chunk);
            file.write_all(&chunk).unwrap();
        }
    }
    let expected = hasher.finalize().to_hex().to_string();

    let (code, rss_kib) = run_measured(s.cmd(["add", path.to_str().unwrap()]));
    assert_eq!(code, 0);
    eprintln!("peak RSS adding a {} MiB file: {} MiB", SIZE >> 20, rss_kib / 1024);
    assert!(rss_kib < 96 * 1024, "peak RSS {rss_kib} KiB: the file was read into memory");

    let docs = s.json(["posteingang", "list"]);
    let doc = docs["documents"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(docs["documents"][0]["blob"], expected.as_str());
    assert_eq!(docs["documents"][0]["size"], SIZE as u64);

    let out = s.dir.path().join("copy.tif");
    let (code, rss_kib) = run_measured(s.cmd(["get", &doc, "-o", out.to_str().unwrap()]));
    assert_eq!(code, 0);
    assert!(rss_kib < 96 * 1024, "peak RSS {rss_kib} KiB reading it back");
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(&out).unwrap();
    std::io::copy(&mut file, &mut hasher).unwrap();
    assert_eq!(hasher.finalize().to_hex().to_string(), expected);
}
