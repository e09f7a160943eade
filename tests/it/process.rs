//! `semsearch serve` as a child process on the tiny model, and raw HTTP/1.1 against it: for the
//! tests that need a real socket (timeouts, hosts, connection limits, signals).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::tiny_model_dir;

/// A `semsearch serve` child, killed when dropped; `.1` is its `host:port`.
pub struct Server(pub Child, pub String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves `index` (created on the first write if missing) with `extra` flags and `env`, on a
/// free loopback port; returns once it accepts connections.
pub fn serve_with(index: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    serve_at(&free_addr(), index, extra, env)
}

/// A loopback `host:port` nothing listens on (at the time of asking).
pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// [`serve_with`] on `addr` (to restart a server where its clients expect it).
pub fn serve_at(addr: &str, index: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let addr = addr.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_semsearch"));
    cmd.arg("--model")
        .arg(tiny_model_dir())
        .args(["serve", "--addr", &addr, "--index"])
        .arg(index)
        .args(extra)
        .env_remove("SEMSEARCH_API_KEY")
        .env_remove("SEMSEARCH_KEYS")
        .env_remove("SEMSEARCH_PUBLIC_URL")
        .env_remove("SEMSEARCH_ALLOWED_HOSTS")
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().unwrap(), addr);
    for _ in 0..200 {
        if std::net::TcpStream::connect(&server.1).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("semsearch serve did not start");
}

/// [`serve_with`] without environment.
pub fn serve(index: &Path, extra: &[&str]) -> Server {
    serve_with(index, extra, &[])
}

/// An HTTP answer: status, head (lower-cased), body.
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Status line and headers, lower-cased.
    pub head: String,
    /// Body.
    pub body: String,
}

/// Sends `request` as written on a fresh connection and reads the whole answer.
pub fn raw(addr: &str, request: &str) -> Answer {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // A server may answer before reading the whole request (a body over the limit) and close:
    // the write then fails, and the answer is still there to read.
    let wrote = s.write_all(request.as_bytes());
    let mut bytes = Vec::new();
    let read = s.read_to_end(&mut bytes);
    if bytes.is_empty() {
        wrote.unwrap();
        read.unwrap();
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0),
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// One request with `Host: host`, a JSON body and `extra` header lines (each ending in \r\n).
pub fn request(
    addr: &str,
    host: &str,
    method: &str,
    path: &str,
    extra: &str,
    body: &str,
) -> Answer {
    raw(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// One HTTP/1.1 request on a fresh connection: status and body.
pub fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let a = request(addr, addr, method, path, "", body);
    (a.status, a.body)
}
