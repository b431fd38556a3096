//! `akten serve`: the engine daemon, and the wire format its clients use.
//!
//! The server owns one open [`Engine`] (and so the store lock) for as long
//! as it runs, and answers `POST /v1/request` on 127.0.0.1 with the JSON
//! body `{"request": <Request>, "actor": "<os user>", "cwd": "<dir>"}`
//! ([`Envelope`]) and the answer `{"response": <Response>}` or
//! `{"error": {"message": "...", "kind": "..."}}` ([`Reply`]).
//! Background tasks (the mailroom) run next to it on the same engine
//! ([`Background`], [`StopSignal`]).
//!
//! Files it keeps in the store while it runs:
//! - `serve.token`: 32 random bytes, hex; created with mode 0600 before any
//!   byte is written, so only the store's owner can read it.
//! - `serve.json`: `{"format":1,"address":"127.0.0.1:PORT","pid":N,
//!   "started":"..."}` ([`ServeInfo`]), written after the token through a
//!   temporary file and a rename, so a reader sees all of it or nothing.
//!
//! Invariants:
//! - It listens on loopback only; the address is not configurable, only the
//!   port (`[serve] port`, 0 = any free port).
//! - A request without the token in `Authorization: Bearer` is refused
//!   (401) before its body is even parsed: no engine work is done for it.
//! - The engine runs one request at a time: it sits in an
//!   `Arc<Mutex<Engine>>` and every request runs under the lock, on a
//!   blocking thread, never on the async executor.
//! - Actor: the audit actor of a request is the OS user of the client
//!   process, as the envelope names it; the server records the change on
//!   their behalf. It can trust the envelope because only the store's owner
//!   can read the 0600 token; the token is the authentication, the actor
//!   name is what the audit log shows (the same as in embedded mode).
//! - Relative input paths in a request are resolved against the client's
//!   `cwd` ([`Engine::handle_in`]), and reports show them as typed, so a
//!   command prints the same whether it ran embedded or here.
//! - On SIGTERM or SIGINT (or [`StopSignal::stop`]) it stops accepting,
//!   finishes the request in hand, stops and joins the background tasks,
//!   removes serve.json and serve.token, and only then drops the engine,
//!   which releases the store lock. After a crash the files stay behind;
//!   clients find the port closed (or the pid gone) and run embedded.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::engine::{Engine, Error as EngineError, Request, Response};
use crate::model::Actor;
use crate::store::Config;

/// `<store>/serve.json`: where the running server listens.
pub const SERVE_FILE: &str = "serve.json";
/// `<store>/serve.token`: the local token, mode 0600.
pub const TOKEN_FILE: &str = "serve.token";
/// The version of serve.json and of the wire format.
pub const SERVE_FORMAT: u32 = 1;
/// The one endpoint: run a [`Request`].
pub const REQUEST_PATH: &str = "/v1/request";
/// Largest request body accepted (an `add` of many files names them all).
pub const MAX_BODY: usize = 64 << 20;

/// An engine shared between the HTTP server and background tasks. Lock it
/// for one operation at a time; never hold it while waiting for anything else.
pub type SharedEngine = Arc<Mutex<Engine>>;

/// A task that runs next to the HTTP server (the mailroom): it is called
/// once, before the server accepts requests, with the shared engine and the
/// stop signal, and returns the thread it started. That thread must return
/// soon after the stop signal is set; the server joins it before it removes
/// serve.json and releases the store. Where it finds the engine's mutex
/// poisoned (an operation panicked), it should call [`StopSignal::stop`]
/// and return, as the server does for requests.
///
/// ```no_run
/// # use std::sync::PoisonError;
/// # use std::time::Duration;
/// # use akten::server::{Background, ServeError, Server};
/// # fn start(server: Server) -> Result<(), ServeError> {
/// let mailroom: Background = Box::new(|engine, stop| {
///     std::thread::spawn(move || {
///         while !stop.wait_timeout(Duration::from_secs(2)) {
///             let mut engine = engine.lock().unwrap_or_else(PoisonError::into_inner);
///             // ... one step of work with `engine` ...
///         }
///     })
/// });
/// server.run(vec![mailroom])?;
/// # Ok(())
/// # }
/// ```
pub type Background = Box<dyn FnOnce(SharedEngine, StopSignal) -> JoinHandle<()> + Send>;

/// Set once when the server is to stop (signal, or [`StopSignal::stop`]);
/// threads wait on it with [`StopSignal::wait_timeout`] instead of sleeping.
#[derive(Clone, Default)]
pub struct StopSignal {
    inner: Arc<StopInner>,
}

#[derive(Default)]
struct StopInner {
    stopped: Mutex<bool>,
    changed: Condvar,
    notify: tokio::sync::Notify,
}

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }

    /// Asks everything to stop: the HTTP server stops accepting, and every
    /// waiter wakes up. Calling it again does nothing more.
    pub fn stop(&self) {
        *self.inner.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.inner.changed.notify_all();
        self.inner.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        *self.inner.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until stopped or `timeout` passed; true when stopped.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let stopped = self.inner.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (stopped, _) = self
            .inner
            .changed
            .wait_timeout_while(stopped, timeout, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *stopped
    }

    /// Waits until stopped.
    pub fn wait(&self) {
        let stopped = self.inner.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let _stopped =
            self.inner.changed.wait_while(stopped, |stopped| !*stopped).unwrap_or_else(PoisonError::into_inner);
    }

    async fn stopped(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// How to serve, from `[serve]` in akten.toml.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Port on 127.0.0.1; 0 = any free port.
    pub port: u16,
}

impl ServeOptions {
    pub fn from_config(config: &Config) -> ServeOptions {
        ServeOptions { port: config.serve.port }
    }
}

/// The contents of serve.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServeInfo {
    pub format: u32,
    pub address: SocketAddr,
    pub pid: u32,
    pub started: String,
}

/// The body of `POST /v1/request`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub request: Request,
    /// The OS user of the client process: the audit actor.
    pub actor: Actor,
    /// The client's working directory (absolute): relative paths in the
    /// request are relative to it.
    pub cwd: PathBuf,
}

/// The answer to an [`Envelope`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Response(Box<Response>),
    Error(ErrorBody),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error and its causes, as the CLI prints them after `error: `.
    pub message: String,
    /// `unauthorized`, `bad_request`, `input`, `not_found`, `conflict` or
    /// `internal`.
    pub kind: String,
}

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "cannot listen on {addr}: {source}: choose another port under [serve] in akten.toml, or port = 0 for any free one"
    )]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot write {}: {source}: check that the store directory is writable", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot start the server: {source}")]
    Runtime { source: io::Error },
    #[error("serving on {addr} failed: {source}: start `akten serve` again")]
    Serve { addr: SocketAddr, source: io::Error },
}

/// A bound server, not yet serving: serve.token and serve.json are written.
/// Dropping it without [`Server::run`] removes them again.
pub struct Server {
    engine: SharedEngine,
    root: PathBuf,
    info: ServeInfo,
    token: Arc<str>,
    listener: Option<TcpListener>,
    runtime: Option<tokio::runtime::Runtime>,
    signals: Option<(Signal, Signal)>,
}

impl Server {
    /// Binds 127.0.0.1:`opts.port`, installs the SIGTERM/SIGINT handlers,
    /// writes serve.token (0600) and then serve.json.
    pub fn bind(engine: Engine, opts: &ServeOptions) -> Result<Server, ServeError> {
        let root = engine.root().to_path_buf();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| ServeError::Runtime { source })?;
        let signals = {
            let _context = runtime.enter();
            let term = signal(SignalKind::terminate()).map_err(|source| ServeError::Runtime { source })?;
            let int = signal(SignalKind::interrupt()).map_err(|source| ServeError::Runtime { source })?;
            (term, int)
        };
        let wanted = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, opts.port));
        let listener = TcpListener::bind(wanted).map_err(|source| ServeError::Bind { addr: wanted, source })?;
        let address = listener.local_addr().map_err(|source| ServeError::Bind { addr: wanted, source })?;
        listener.set_nonblocking(true).map_err(|source| ServeError::Bind { addr: wanted, source })?;
        let info = ServeInfo {
            format: SERVE_FORMAT,
            address,
            pid: std::process::id(),
            started: jiff::Timestamp::now().to_string(),
        };
        let mut server = Server {
            engine: Arc::new(Mutex::new(engine)),
            root,
            info,
            token: Arc::from(""),
            listener: Some(listener),
            runtime: Some(runtime),
            signals: Some(signals),
        };
        let token = new_token().map_err(|source| ServeError::Write { path: PathBuf::from("/dev/urandom"), source })?;
        write_token(&server.root.join(TOKEN_FILE), &token)?;
        server.token = Arc::from(token);
        write_info(&server.root, &server.info)?;
        Ok(server)
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.info.address
    }

    /// The store it serves (canonical path).
    pub fn store(&self) -> &Path {
        &self.root
    }

    /// Serves until SIGTERM, SIGINT or [`StopSignal::stop`], with
    /// `background` tasks running next to it; then shuts down in the order
    /// the module documentation gives. Returns once the store is released.
    pub fn run(mut self, background: Vec<Background>) -> Result<(), ServeError> {
        let stop = StopSignal::new();
        let runtime = self.runtime.take().expect("a bound server has its runtime");
        let listener = self.listener.take().expect("a bound server has its listener");
        let (mut term, mut int) = self.signals.take().expect("a bound server has its signal handlers");
        let threads: Vec<JoinHandle<()>> =
            background.into_iter().map(|task| task(Arc::clone(&self.engine), stop.clone())).collect();
        let state = AppState { engine: Arc::clone(&self.engine), token: Arc::clone(&self.token), stop: stop.clone() };
        let app = Router::new()
            .route(REQUEST_PATH, post(handle_request))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(state);
        let addr = self.info.address;
        let shutdown = {
            let stop = stop.clone();
            async move {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    () = stop.stopped() => {}
                }
                // Wake the background tasks while the request in hand finishes.
                stop.stop();
            }
        };
        let result = runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        });
        stop.stop();
        for thread in threads {
            // A background task that panicked has said so on stderr; the
            // store is released all the same.
            let _ = thread.join();
        }
        runtime.shutdown_timeout(Duration::from_secs(5));
        result.map_err(|source| ServeError::Serve { addr, source })
        // `self` drops here: serve.json and serve.token go, then the engine
        // and with it the store lock.
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.root.join(SERVE_FILE));
        let _ = fs::remove_file(self.root.join(TOKEN_FILE));
        // The engine (the last reference, once the tasks are joined) drops
        // after this, releasing the lock.
    }
}

/// 32 random bytes from the kernel, as 64 hex digits.
fn new_token() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates `path` with mode 0600 (a leftover of a crash is replaced) and
/// writes the token; the mode is set at creation, before any byte is in it.
fn write_token(path: &Path, token: &str) -> Result<(), ServeError> {
    let err = |source| ServeError::Write { path: path.to_path_buf(), source };
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(err)?;
    file.write_all(token.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)
}

/// Writes serve.json through a temporary file and a rename.
fn write_info(root: &Path, info: &ServeInfo) -> Result<(), ServeError> {
    let path = root.join(SERVE_FILE);
    let temp = root.join(format!("{SERVE_FILE}.tmp"));
    let err = |source| ServeError::Write { path: path.clone(), source };
    let mut text = serde_json::to_string(info).map_err(|e| err(io::Error::other(e)))?;
    text.push('\n');
    let mut file = File::create(&temp).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.sync_all().map_err(err)?;
    fs::rename(&temp, &path).map_err(err)
}

#[derive(Clone)]
struct AppState {
    engine: SharedEngine,
    token: Arc<str>,
    /// Set when a request panicked: the engine's state in memory is then
    /// unknown, so the server stops and releases the store.
    stop: StopSignal,
}

fn reply(status: StatusCode, body: Reply) -> HttpResponse {
    match serde_json::to_vec(&body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => error_reply(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("cannot encode the answer: {e}")),
    }
}

fn error_reply(status: StatusCode, kind: &str, message: String) -> HttpResponse {
    let body = serde_json::json!({ "error": { "message": message, "kind": kind } });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Whether the request carries the token, compared in constant time.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = given.strip_prefix("Bearer ") else {
        return false;
    };
    !token.is_empty()
        && given.len() == token.len()
        && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn handle_request(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> HttpResponse {
    if !authorized(&headers, &state.token) {
        return error_reply(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong token: send the token from serve.token in the store as `Authorization: Bearer TOKEN`"
                .to_string(),
        );
    }
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            return error_reply(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("not a request this akten serve understands ({e}): use the same akten version as the server"),
            );
        }
    };
    if !envelope.cwd.is_absolute() {
        return error_reply(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("cwd {} is not an absolute path: send the client's working directory", envelope.cwd.display()),
        );
    }
    let engine = Arc::clone(&state.engine);
    let outcome = tokio::task::spawn_blocking(move || {
        let mut engine = engine.lock().map_err(|_| ())?;
        Ok(engine.handle_in(envelope.request, &envelope.actor, &envelope.cwd))
    })
    .await;
    match outcome {
        Ok(Ok(Ok(response))) => reply(StatusCode::OK, Reply::Response(Box::new(response))),
        Ok(Ok(Err(e))) => {
            let (status, kind) = classify(&e);
            error_reply(status, kind, error_chain(&e))
        }
        Ok(Err(())) | Err(_) => {
            state.stop.stop();
            error_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error in akten serve (see its output); it stops now: run `akten verify`, then start it again"
                    .to_string(),
            )
        }
    }
}

/// The HTTP status and error kind of an engine error.
fn classify(e: &EngineError) -> (StatusCode, &'static str) {
    match e {
        EngineError::Input { .. } => (StatusCode::BAD_REQUEST, "input"),
        EngineError::BadRequest(_)
        | EngineError::Plan(_)
        | EngineError::Ambiguous { .. }
        | EngineError::NotBetreffseinheit { .. }
        | EngineError::RetiredPosition { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
        EngineError::NoTarget { .. }
        | EngineError::NoAkte { .. }
        | EngineError::NoVorgang { .. }
        | EngineError::NoDocument { .. }
        | EngineError::NoObject { .. }
        | EngineError::UnknownPosition { .. } => (StatusCode::NOT_FOUND, "not_found"),
        EngineError::PlanConflict(_)
        | EngineError::Closed { .. }
        | EngineError::NotClosed { .. }
        | EngineError::OpenVorgaenge { .. }
        | EngineError::SameContent { .. }
        | EngineError::Duplicate { .. }
        | EngineError::AlreadyThere { .. } => (StatusCode::CONFLICT, "conflict"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// The error and its causes joined by ": ", as the CLI prints an error
/// (anyhow's `{:#}`), so that a forwarded error reads the same.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_must_match_exactly() {
        let token = "ab".repeat(32);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(authorized(&with(&format!("Bearer {token}")), &token));
        assert!(!authorized(&HeaderMap::new(), &token));
        assert!(!authorized(&with(&token), &token));
        assert!(!authorized(&with(&format!("Bearer {}", &token[..63])), &token));
        assert!(!authorized(&with(&format!("Bearer {token}0")), &token));
        assert!(!authorized(&with(&format!("Bearer {}", "ba".repeat(32))), &token));
        assert!(!authorized(&with("Bearer "), ""), "an empty token never matches a header without one");
    }

    #[test]
    fn new_tokens_are_64_hex_digits_and_differ() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn stop_signal_wakes_waiters() {
        let stop = StopSignal::new();
        assert!(!stop.wait_timeout(Duration::from_millis(10)));
        let waiter = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                stop.wait();
                stop.is_stopped()
            })
        };
        stop.stop();
        assert!(waiter.join().unwrap());
        assert!(stop.wait_timeout(Duration::from_secs(60)), "returns at once once stopped");
    }

    #[test]
    fn error_chain_reads_like_the_cli() {
        let inner = io::Error::new(io::ErrorKind::PermissionDenied, "permission denied");
        let e = ServeError::Write { path: PathBuf::from("/s/serve.json"), source: inner };
        assert_eq!(
            error_chain(&e),
            "cannot write /s/serve.json: permission denied: check that the store directory is writable: permission denied"
        );
    }

    fn new_store(dir: &Path) -> Engine {
        let actor = Actor::new("tester".to_string());
        let (engine, _) =
            Engine::init(&dir.join("store"), crate::engine::PlanSource::Bundled, Config::new(), &actor, "test")
                .unwrap();
        engine
    }

    fn post(address: SocketAddr, token: &str, request: Request) -> (u16, Reply) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).proxy(None).build().into();
        let envelope = Envelope { request, actor: Actor::new("tester".to_string()), cwd: PathBuf::from("/") };
        let mut answer = agent
            .post(&format!("http://{address}{REQUEST_PATH}"))
            .header("Authorization", &format!("Bearer {token}"))
            .send(serde_json::to_string(&envelope).unwrap().as_str())
            .unwrap();
        let body = answer.body_mut().read_to_string().unwrap();
        (answer.status().as_u16(), serde_json::from_str(&body).unwrap())
    }

    /// The hook: a background task shares the engine, is joined on stop,
    /// and the request in hand when the stop comes is still answered; then
    /// the files are gone and the store is free.
    #[test]
    fn background_task_and_request_in_hand_finish_before_the_store_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let engine = new_store(dir.path());
        let root = engine.root().to_path_buf();
        let server = Server::bind(engine, &ServeOptions { port: 0 }).unwrap();
        let address = server.address();
        let token = fs::read_to_string(root.join(TOKEN_FILE)).unwrap();
        assert!(root.join(SERVE_FILE).is_file());

        let (tx, rx) = std::sync::mpsc::channel::<StopSignal>();
        let task_saw_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let saw = Arc::clone(&task_saw_stop);
        let task: Background = Box::new(move |engine, stop| {
            std::thread::spawn(move || {
                // Holds the engine as a mailroom step would, long enough for
                // a request to queue behind it and for the stop to come.
                let guard = engine.lock().unwrap();
                tx.send(stop.clone()).unwrap();
                std::thread::sleep(Duration::from_millis(1500));
                drop(guard);
                stop.wait();
                saw.store(true, std::sync::atomic::Ordering::SeqCst);
                // The engine is usable from here, too.
                let mut engine = engine.lock().unwrap();
                let actor = Actor::new("tester".to_string());
                assert!(matches!(
                    engine.handle(Request::PosteingangList { unit: None, discarded: false }, &actor),
                    Ok(Response::Posteingang { .. })
                ));
            })
        });
        let running = std::thread::spawn(move || server.run(vec![task]));
        let stop = rx.recv().unwrap();
        let client = std::thread::spawn(move || {
            post(address, &token, Request::PosteingangList { unit: None, discarded: false })
        });
        std::thread::sleep(Duration::from_millis(500));
        stop.stop();
        let (status, reply) = client.join().unwrap();
        assert_eq!(status, 200);
        assert!(matches!(reply, Reply::Response(r) if matches!(*r, Response::Posteingang { .. })));
        running.join().unwrap().unwrap();
        assert!(task_saw_stop.load(std::sync::atomic::Ordering::SeqCst), "the task was joined after the stop");
        assert!(!root.join(SERVE_FILE).exists());
        assert!(!root.join(TOKEN_FILE).exists());
        Engine::open(&root, "test").expect("the store is free again");
    }

    #[test]
    fn reply_wire_format() {
        let error = Reply::Error(ErrorBody { message: "no".into(), kind: "not_found".into() });
        assert_eq!(serde_json::to_string(&error).unwrap(), r#"{"error":{"message":"no","kind":"not_found"}}"#);
        let envelope: Envelope =
            serde_json::from_str(r#"{"request":{"op":"posteingang_list"},"actor":"anna","cwd":"/home/anna"}"#).unwrap();
        assert!(matches!(envelope.request, Request::PosteingangList { .. }));
    }
}
