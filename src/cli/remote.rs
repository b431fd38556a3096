//! The CLI as a client of `akten serve` (see src/server.rs).
//!
//! Before a command opens the store itself, [`forward`] looks for
//! `<store>/serve.json`. Where a server answers there, the request goes to
//! it with the token from `<store>/serve.token`, the OS user as actor and
//! the working directory for relative paths; its answer is printed exactly
//! as an embedded engine's would be. Where no server runs (no file, its pid
//! gone, or the port refusing connections: a stale file after a crash) the
//! command runs embedded, as if the file were not there. A port that refuses
//! while the pid lives is a server shutting down: the command waits a little
//! for it to release the store.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use akten::engine::{Request, Response};
use akten::model::Actor;
use akten::server::{Envelope, REQUEST_PATH, Reply, SERVE_FILE, SERVE_FORMAT, ServeInfo, TOKEN_FILE};

/// What became of a request offered to the server.
pub enum Forwarded {
    /// No server runs for this store: run it embedded.
    NotRunning,
    /// The server's process lives but its port refuses connections: it is
    /// stopping (or the file is stale and the pid reused). Run embedded,
    /// once it released the store.
    Stopping { pid: u32 },
    /// The server ran it.
    Answered(Box<Response>),
    /// The server ran it and the engine refused it: the message is what the
    /// CLI prints after `error: `.
    Refused(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot read {}: {source}: only the store's owner can use the running `akten serve`", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not a serve.json this akten understands ({detail}): use the akten that runs `akten serve`, or remove the file if no server runs", path.display())]
    BadInfo { path: PathBuf, detail: String },
    #[error("cannot find the current directory: {source}")]
    Cwd { source: io::Error },
    #[error(
        "akten serve at {addr} (pid {pid}) did not answer: {detail}: check that it is running, or stop it and run the command again"
    )]
    Transport { addr: std::net::SocketAddr, pid: u32, detail: String },
}

/// Offers `request` to the `akten serve` of the store at `store`.
pub fn forward(store: &Path, request: &Request, actor: &Actor) -> Result<Forwarded, RemoteError> {
    let info_path = store.join(SERVE_FILE);
    let text = match std::fs::read_to_string(&info_path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Forwarded::NotRunning),
        Err(source) => return Err(RemoteError::Read { path: info_path, source }),
    };
    let info: ServeInfo = serde_json::from_str(&text)
        .map_err(|e| RemoteError::BadInfo { path: info_path.clone(), detail: e.to_string() })?;
    if info.format != SERVE_FORMAT {
        return Err(RemoteError::BadInfo { path: info_path, detail: format!("format {}", info.format) });
    }
    if !process_alive(info.pid) {
        return Ok(Forwarded::NotRunning);
    }
    let token_path = store.join(TOKEN_FILE);
    let token = match std::fs::read_to_string(&token_path) {
        Ok(t) => t,
        // The server is between removing serve.json and the token: it stops.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Forwarded::NotRunning),
        Err(source) => return Err(RemoteError::Read { path: token_path, source }),
    };
    let cwd = std::env::current_dir().map_err(|source| RemoteError::Cwd { source })?;
    let envelope = Envelope { request: request.clone(), actor: actor.clone(), cwd };
    let transport = |detail: String| RemoteError::Transport { addr: info.address, pid: info.pid, detail };
    let body = serde_json::to_string(&envelope).map_err(|e| transport(e.to_string()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(5)))
        .build()
        .into();
    let url = format!("http://{}{}", info.address, REQUEST_PATH);
    let answer = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", token.trim()))
        .header("Content-Type", "application/json")
        .send(body.as_str());
    let mut answer = match answer {
        Ok(a) => a,
        Err(ureq::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Ok(Forwarded::Stopping { pid: info.pid });
        }
        Err(ureq::Error::ConnectionFailed) => return Ok(Forwarded::Stopping { pid: info.pid }),
        Err(e) => return Err(transport(e.to_string())),
    };
    let mut bytes = Vec::new();
    answer.body_mut().as_reader().read_to_end(&mut bytes).map_err(|e| transport(e.to_string()))?;
    let reply: Reply = serde_json::from_slice(&bytes).map_err(|e| {
        transport(format!("HTTP {} with a body that is not an akten answer ({e})", answer.status().as_u16()))
    })?;
    Ok(match reply {
        Reply::Response(response) => Forwarded::Answered(response),
        Reply::Error(error) => Forwarded::Refused(error.message),
    })
}

/// Whether a process with this pid exists (it may belong to another user).
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
