//! A large file is stored and read back streaming: the process never holds
//! it in memory, and the bytes come back identical.

use std::io::Write;

use crate::util::TestStore;

const SIZE: usize = 256 * 1024 * 1024;

/// Runs the command and returns (exit code, peak RSS in KiB) via wait4.
fn run_measured(mut cmd: std::process::Command) -> (i32, i64) {
    // Reaped by wait4 below, which also returns its resource usage.
    #[allow(clippy::zombie_processes, reason = "reaped with wait4 to read its rusage")]
    let child = cmd.stdout(std::process::Stdio::null()).spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our unwaited child; status and usage are valid out-pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn large_file_is_streamed() {
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
