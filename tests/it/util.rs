//! Test helpers: a store in a temp dir and a builder for `akten` runs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_akten");

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A store in its own temp dir, plus a place for input files.
pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TestStore {
    /// A fresh store created with `akten init` and the bundled plan.
    pub fn new() -> TestStore {
        let s = TestStore::uninitialised();
        s.ok(["init"]);
        s
    }

    /// A temp dir whose store does not exist yet.
    pub fn uninitialised() -> TestStore {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store");
        std::fs::create_dir(dir.path().join("files")).unwrap();
        TestStore { dir, path }
    }

    /// `akten --store <store> ARGS`, with no AKTEN_STORE from outside.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(BIN);
        cmd.env_remove("AKTEN_STORE").arg("--store").arg(&self.path).args(args).current_dir(self.dir.path());
        cmd
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Run::from(self.cmd(args).output().expect("run akten"))
    }

    /// Runs and asserts exit code 0; returns stdout.
    #[track_caller]
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_os_string()).collect();
        let run = self.run(&args);
        assert_eq!(run.code, 0, "akten {args:?} failed:\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
        run.stdout
    }

    /// Runs with `--json`, asserts exit code 0, parses stdout.
    #[track_caller]
    pub fn json<I, S>(&self, args: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut all: Vec<std::ffi::OsString> = vec!["--json".into()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
    }

    /// Writes an input file below `files/` and returns its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join("files").join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Opens an Akte under `code` and returns its Aktenzeichen.
    pub fn open_akte(&self, code: &str, title: &str) -> String {
        let v = self.json(["akte", "open", code, "--title", title]);
        v["aktenzeichen"].as_str().expect("aktenzeichen").to_string()
    }

    /// Adds one file and returns the new document's id.
    pub fn add(&self, file: &Path, to: Option<&str>) -> String {
        let mut args: Vec<std::ffi::OsString> = vec!["add".into(), file.into()];
        if let Some(to) = to {
            args.push("--to".into());
            args.push(to.into());
        }
        let v = self.json(&args);
        let r = &v["results"][0];
        assert_eq!(r["outcome"], "added", "{v:#}");
        r["doc"]["id"].as_str().unwrap().to_string()
    }

    /// The audit chain head and event count, to show nothing changed.
    pub fn audit_state(&self) -> (Value, u64) {
        let v = self.json(["log", "--limit", "1"]);
        (v["chain_head"].clone(), v["total"].as_u64().unwrap())
    }

    /// Runs `verify`, asserting it finds no errors; returns its report.
    #[track_caller]
    pub fn verify_clean(&self) -> Value {
        let run = self.run(["--json", "verify"]);
        assert_eq!(run.code, 0, "verify found errors:\n{}\n{}", run.stdout, run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// Path of the blob with the given hex id.
    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.path.join("blobs").join(&hex[..2]).join(hex)
    }
}

/// The current year in Berlin, as akten computes it.
pub fn berlin_year() -> i16 {
    akten::calendar::Calendar::new("Europe/Berlin").unwrap().date_of(jiff::Timestamp::now()).year()
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    akten::extract::ocr::on_path(program)
}

/// Whether `program` is installed, for a test that needs it. Where it is
/// missing the test says so and skips; under CI (`AKTEN_REQUIRE_TOOLS=1`,
/// set by .ci/run, which installs every tool) a missing tool fails instead,
/// so nothing is skipped silently there.
#[track_caller]
pub fn need(program: &str, test: &str, package: &str) -> bool {
    if have(program) {
        return true;
    }
    if std::env::var_os("AKTEN_REQUIRE_TOOLS").is_some() {
        panic!("{test} needs `{program}` (Debian package {package}), and AKTEN_REQUIRE_TOOLS is set");
    }
    eprintln!("SKIPPED {test}: needs `{program}` (Debian package {package})");
    false
}

/// A running `akten serve` on a test store; killed when dropped.
pub struct Served {
    pub child: std::process::Child,
    /// serve.json as the server wrote it.
    pub info: Value,
    /// The line it printed on start.
    pub first_line: String,
}

impl Served {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` and waits (at most 30 s) for the server to exit.
    #[track_caller]
    pub fn stop_with(&mut self, signal: i32) -> std::process::ExitStatus {
        // SAFETY: kill(2) on the pid of a child we started and still own.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill {}: {}", self.pid(), std::io::Error::last_os_error());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for akten serve") {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "akten serve did not exit within 30 s of signal {signal}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestStore {
    /// Starts `akten serve` on this store from another working directory
    /// (`/`, so that relative paths of clients must be resolved against
    /// theirs), and waits for serve.json (30 s at most). Its stderr goes to
    /// `<dir>/serve.stderr`.
    #[track_caller]
    pub fn serve(&self) -> Served {
        use std::io::BufRead;
        let stderr = std::fs::File::create(self.dir.path().join("serve.stderr")).unwrap();
        let mut child = Command::new(BIN)
            .env_remove("AKTEN_STORE")
            .arg("--store")
            .arg(&self.path)
            .arg("serve")
            .current_dir("/")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start akten serve");
        let info_path = self.path.join("serve.json");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let info = loop {
            // A stale serve.json of an earlier server names another pid.
            if let Ok(text) = std::fs::read_to_string(&info_path)
                && let Ok(info) = serde_json::from_str::<Value>(&text)
                && info["pid"] == child.id()
            {
                break info;
            }
            let log = || std::fs::read_to_string(self.dir.path().join("serve.stderr")).unwrap_or_default();
            if let Some(status) = child.try_wait().unwrap() {
                panic!("akten serve exited ({status}) before writing {}:\n{}", info_path.display(), log());
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("akten serve did not write {} within 30 s:\n{}", info_path.display(), log());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut first_line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
        Served { child, info, first_line }
    }
}
