//! Just enough HTTP/1.1 for the proxy: it reads requests from senders and responses
//! from replicas, and writes both, on kept-alive connections.
//!
//! Every message the proxy carries is one `POST` with a `Content-Length` body, and
//! every answer the replicas give has one too (axum sizes its fixed bodies), so that
//! is the only body framing spoken; anything else (a chunked body, a head over
//! [`HEAD_LIMIT`]) is an error that ends the connection. A response without a length
//! runs to the end of the connection, as HTTP/1.1 says.

use axum::body::Bytes;
use axum::http::StatusCode;
use bytes::{Buf, BytesMut};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest request or response head accepted.
const HEAD_LIMIT: usize = 64 * 1024;
/// Most header lines parsed in one head.
const MAX_HEADERS: usize = 32;
/// How much the read buffer grows by at least.
const READ_CHUNK: usize = 16 * 1024;

/// One message read from a sender.
#[derive(Debug)]
pub(super) struct Request {
    /// Whether it was sent to `/request` (a client's request) rather than `/pbft`.
    pub(super) is_request: bool,
    /// The message.
    pub(super) body: Bytes,
    /// The sender asked to close the connection after the answer.
    pub(super) close: bool,
}

/// One answer read from a replica.
#[derive(Debug)]
pub(super) struct Response {
    /// Its status.
    pub(super) status: StatusCode,
    /// Its body.
    pub(super) body: Bytes,
    /// The replica closes the connection after it.
    pub(super) close: bool,
}

/// What the proxy answers a sender.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    status: StatusCode,
    content_type: Option<&'static str>,
    body: Bytes,
}

impl Answer {
    /// A status with no body.
    pub(super) fn status(status: StatusCode) -> Answer {
        Answer {
            status,
            content_type: None,
            body: Bytes::new(),
        }
    }

    /// A status with a short explanation.
    pub(super) fn text(status: StatusCode, text: &'static str) -> Answer {
        Answer {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            body: Bytes::from_static(text.as_bytes()),
        }
    }

    /// A replica's answer, passed on.
    pub(super) fn json(status: StatusCode, body: Bytes) -> Answer {
        Answer {
            status,
            content_type: Some("application/json"),
            body,
        }
    }
}

/// Framing errors; I/O errors carry their own kind.
fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// The framing headers of one head.
#[derive(Default)]
struct Framing {
    length: Option<usize>,
    close: bool,
}

fn framing(headers: &[httparse::Header<'_>], version: Option<u8>) -> io::Result<Framing> {
    let mut f = Framing {
        length: None,
        close: version == Some(0),
    };
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| invalid("bad content-length"))?;
            if f.length.is_some_and(|m| m != n) {
                return Err(invalid("conflicting content-length"));
            }
            f.length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("unsupported transfer-encoding"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = std::str::from_utf8(h.value).unwrap_or_default();
            if v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")) {
                f.close = true;
            } else if v
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("keep-alive"))
            {
                f.close = false;
            }
        }
    }
    Ok(f)
}

/// One TCP connection with its read buffer and a buffer for what is written next.
#[derive(Debug)]
pub(super) struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
}

impl Conn {
    /// Wraps a connected stream (and turns Nagle off: every write is a whole message).
    pub(super) fn new(stream: TcpStream) -> Conn {
        let _ = stream.set_nodelay(true);
        Conn {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            out: Vec::with_capacity(READ_CHUNK),
        }
    }

    /// Connects to `addr`.
    pub(super) async fn connect(addr: &str) -> io::Result<Conn> {
        Ok(Conn::new(TcpStream::connect(addr).await?))
    }

    /// Reads more bytes; an error at the end of the stream.
    async fn fill(&mut self, want: usize) -> io::Result<usize> {
        self.buf.reserve(want.max(READ_CHUNK));
        self.stream.read_buf(&mut self.buf).await
    }

    /// Reads one request, or `None` when the sender closed the connection between
    /// requests. Cancel safe: nothing is consumed until a whole request is buffered.
    pub(super) async fn read_request(&mut self, body_limit: usize) -> io::Result<Option<Request>> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            let mut want = 0;
            match req.parse(&self.buf).map_err(|e| invalid(&e.to_string()))? {
                httparse::Status::Complete(head) => {
                    let f = framing(req.headers, req.version)?;
                    let length = f.length.unwrap_or(0);
                    if length > body_limit {
                        return Err(invalid("body over the limit"));
                    }
                    if self.buf.len() >= head + length {
                        let is_request = req.path == Some("/request");
                        self.buf.advance(head);
                        let body = self.buf.split_to(length).freeze();
                        return Ok(Some(Request {
                            is_request,
                            body,
                            close: f.close,
                        }));
                    }
                    want = head + length - self.buf.len();
                }
                httparse::Status::Partial if self.buf.len() > HEAD_LIMIT => {
                    return Err(invalid("request head too large"));
                }
                httparse::Status::Partial => {}
            }
            if self.fill(want).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Reads one response (skipping informational ones).
    pub(super) async fn read_response(&mut self, body_limit: usize) -> io::Result<Response> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            let mut want = 0;
            match resp.parse(&self.buf).map_err(|e| invalid(&e.to_string()))? {
                httparse::Status::Complete(head) => {
                    let code = resp.code.unwrap_or(0);
                    let status =
                        StatusCode::from_u16(code).map_err(|_| invalid("bad status code"))?;
                    if status.is_informational() {
                        self.buf.advance(head);
                        continue;
                    }
                    let f = framing(resp.headers, resp.version)?;
                    let length = match f.length {
                        Some(n) => n,
                        None if code == 204 || code == 304 => 0,
                        None => return self.read_to_end(head, status, body_limit).await,
                    };
                    if length > body_limit {
                        return Err(invalid("body over the limit"));
                    }
                    if self.buf.len() >= head + length {
                        self.buf.advance(head);
                        let body = self.buf.split_to(length).freeze();
                        return Ok(Response {
                            status,
                            body,
                            close: f.close,
                        });
                    }
                    want = head + length - self.buf.len();
                }
                httparse::Status::Partial if self.buf.len() > HEAD_LIMIT => {
                    return Err(invalid("response head too large"));
                }
                httparse::Status::Partial => {}
            }
            if self.fill(want).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A response whose body runs to the end of the connection.
    async fn read_to_end(
        &mut self,
        head: usize,
        status: StatusCode,
        body_limit: usize,
    ) -> io::Result<Response> {
        while self.fill(0).await? > 0 {
            if self.buf.len() > head + body_limit {
                return Err(invalid("body over the limit"));
            }
        }
        self.buf.advance(head);
        let body = self.buf.split().freeze();
        Ok(Response {
            status,
            body,
            close: true,
        })
    }

    /// Sends one `POST` to `path` on `host`.
    pub(super) async fn write_request(
        &mut self,
        path: &str,
        host: &str,
        body: &[u8],
    ) -> io::Result<()> {
        self.out.clear();
        self.out.extend_from_slice(b"POST ");
        self.out.extend_from_slice(path.as_bytes());
        self.out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
        self.out.extend_from_slice(host.as_bytes());
        self.out
            .extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
        self.send_body(body).await
    }

    /// Sends an answer (with `connection: close` if `close`).
    pub(super) async fn write_answer(&mut self, answer: &Answer, close: bool) -> io::Result<()> {
        self.out.clear();
        self.out.extend_from_slice(b"HTTP/1.1 ");
        self.out
            .extend_from_slice(answer.status.as_str().as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(
            answer
                .status
                .canonical_reason()
                .unwrap_or("Unknown")
                .as_bytes(),
        );
        if let Some(ct) = answer.content_type {
            self.out.extend_from_slice(b"\r\ncontent-type: ");
            self.out.extend_from_slice(ct.as_bytes());
        }
        if close {
            self.out.extend_from_slice(b"\r\nconnection: close");
        }
        self.out.extend_from_slice(b"\r\ncontent-length: ");
        let body = answer.body.clone();
        self.send_body(&body).await
    }

    /// Ends the head started in `out` with the body's length, and sends head and body
    /// in one write.
    async fn send_body(&mut self, body: &[u8]) -> io::Result<()> {
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
        self.stream.write_all(&self.out).await
    }

    /// Whether everything read has been consumed (no stray bytes after a response).
    pub(super) fn drained(&self) -> bool {
        self.buf.is_empty()
    }

    /// Resolves once the peer closes the connection or sends something unasked: for
    /// an idle connection to a replica, either means it must not be used again.
    pub(super) async fn readable(&self) {
        let mut byte = [0u8; 1];
        let _ = self.stream.peek(&mut byte).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A connected pair: (our side, the other side).
    async fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (conn, accepted) = tokio::join!(Conn::connect(&addr), listener.accept());
        (conn.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn requests_arrive_whole_even_in_pieces_and_back_to_back() {
        let (mut conn, mut other) = pair().await;
        let wire = b"POST /pbft HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhelloPOST /request HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
        let writer = tokio::spawn(async move {
            for piece in wire.chunks(7) {
                other.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            other
        });
        let first = conn.read_request(1024).await.unwrap().unwrap();
        assert!(!first.is_request && !first.close);
        assert_eq!(&first.body[..], b"hello");
        let second = conn.read_request(1024).await.unwrap().unwrap();
        assert!(second.is_request && second.close);
        assert_eq!(&second.body[..], b"{}");
        drop(writer.await.unwrap());
        assert!(conn.read_request(1024).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn chunked_and_oversized_requests_are_refused() {
        let (mut conn, mut other) = pair().await;
        other
            .write_all(b"POST /pbft HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        assert!(conn.read_request(1024).await.is_err());
        let (mut conn, mut other) = pair().await;
        other
            .write_all(b"POST /pbft HTTP/1.1\r\ncontent-length: 2048\r\n\r\n")
            .await
            .unwrap();
        assert!(conn.read_request(1024).await.is_err());
    }

    #[tokio::test]
    async fn a_request_is_written_and_its_response_read() {
        let (mut conn, mut other) = pair().await;
        conn.write_request("/pbft", "127.0.0.1:9", b"{\"type\":\"commit\"}")
            .await
            .unwrap();
        let expect = b"POST /pbft HTTP/1.1\r\nhost: 127.0.0.1:9\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{\"type\":\"commit\"}";
        let mut got = vec![0u8; expect.len()];
        other.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..], &expect[..]);
        other
            .write_all(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n",
            )
            .await
            .unwrap();
        let r = conn.read_response(1024).await.unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert!(r.body.is_empty() && !r.close && conn.drained());
        other
            .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{\"ok\":1}")
            .await
            .unwrap();
        drop(other);
        let r = conn.read_response(1024).await.unwrap();
        assert_eq!(
            (r.status, &r.body[..], r.close),
            (StatusCode::OK, &b"{\"ok\":1}"[..], true)
        );
    }

    #[tokio::test]
    async fn answers_carry_status_type_and_length() {
        let (mut conn, mut other) = pair().await;
        let answer = Answer::json(StatusCode::OK, Bytes::from_static(b"[1]"));
        conn.write_answer(&answer, false).await.unwrap();
        conn.write_answer(&Answer::status(StatusCode::ACCEPTED), true)
            .await
            .unwrap();
        drop(conn);
        let mut got = String::new();
        other.read_to_string(&mut got).await.unwrap();
        assert_eq!(
            got,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 3\r\n\r\n[1]\
             HTTP/1.1 202 Accepted\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
        );
    }
}
