//! Raw HTTP/1.1 over a socket, for what a well-behaved client never sends: headers that
//! promise a huge body, no content type, unknown paths. Every read has a timeout, so a hub
//! that waits for a body it should have refused fails the test instead of hanging it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(base: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn head(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut h = format!("{method} {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

fn response(mut s: TcpStream) -> (u16, serde_json::Value) {
    let mut raw = Vec::new();
    // The hub may close while we still write; what it answered is what counts.
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("answer {status} is not JSON ({e}): {body:?}"));
    (status, json)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

/// Sends one request with this body; returns the status and the JSON answer.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut s = connect(base);
    s.write_all(head(method, path, headers).as_bytes()).unwrap();
    let _ = s.write_all(body);
    response(s)
}

/// Declares a body of `len` bytes and streams it in 1 MiB pieces for as long as the hub
/// reads; returns the answer and how many bytes the hub took before it answered.
pub fn stream(
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    len: usize,
) -> (u16, serde_json::Value, usize) {
    let mut s = connect(base);
    let mut all = headers.to_vec();
    let n = len.to_string();
    all.push(("Content-Length", &n));
    all.push(("Content-Type", "application/json"));
    s.write_all(head("POST", path, &all).as_bytes()).unwrap();
    let piece = vec![b' '; 1 << 20];
    let mut sent = 0;
    while sent < len {
        match s.write(&piece[..piece.len().min(len - sent)]) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let (status, json) = response(s);
    (status, json, sent)
}
