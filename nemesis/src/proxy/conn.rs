//! One sender's connection to a proxy listener, paired with one connection of the
//! proxy's own to the link's replica.
//!
//! While the proxy is healed (no rule, no Byzantine replica) a message takes the fast
//! path: it is counted by its type tag alone, its body goes unchanged to the paired
//! connection, and the replica's answer comes back; one task does all of it, with no
//! decoding of the body and no hand-over to another task. With any rule or Byzantine
//! replica installed the message goes to [`handle`](super::handle), which applies
//! them. Either way the sender waits for the answer, as it would wait for the replica.
//!
//! The paired connection is opened at the first fast-path message and kept while the
//! sender's is; if the replica closes it while it is idle (it exited or restarted), the
//! next message opens a new one. Any other error or a time-out on it answers the sender
//! 503, as a failed forward always has, and drops it.

use super::wire::{Answer, Conn, Request, Response};
use super::{handle, Shared, BODY_LIMIT, PEER_TIMEOUT, REQUEST_TIMEOUT};
use crate::link::Link;
use crate::message::Message;
use crate::rule::Verdict;
use axum::body::Bytes;
use axum::http::StatusCode;
use std::io;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Serves the messages of one sender's connection on `link` until it closes.
pub(super) async fn serve(shared: Arc<Shared>, link: Link, stream: TcpStream) {
    let mut inbound = Conn::new(stream);
    let mut outbound: Option<Conn> = None;
    loop {
        let read = tokio::select! {
            // The closing is looked at first, so a message that arrives with it goes
            // to a new connection.
            biased;
            // The idle paired connection was closed by the replica: open a new one for
            // the next message rather than find out by failing it.
            () = idle_closed(outbound.as_ref()) => {
                outbound = None;
                continue;
            }
            // The sender's next message (or the end of its connection).
            read = inbound.read_request(BODY_LIMIT) => read,
        };
        let request = match read {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(e) => {
                tracing::trace!(%link, error = %e, "bad request on a proxy listener");
                let answer = Answer::text(StatusCode::BAD_REQUEST, "malformed request");
                let _ = inbound.write_answer(&answer, true).await;
                return;
            }
        };
        let Request {
            is_request,
            body,
            close,
        } = request;
        let answer = if shared.is_healed() {
            let kind = Message::kind_only(link, is_request, &body).kind;
            shared.counters.count(link, kind, Verdict::Deliver);
            forward_paired(&shared, link, &mut outbound, is_request, body).await
        } else {
            handle(Arc::clone(&shared), link, is_request, body).await
        };
        if inbound.write_answer(&answer, close).await.is_err() || close {
            return;
        }
    }
}

/// Resolves when the idle paired connection becomes readable (closed by the replica,
/// or unasked bytes); never without one.
async fn idle_closed(outbound: Option<&Conn>) {
    match outbound {
        Some(conn) => conn.readable().await,
        None => std::future::pending().await,
    }
}

/// Sends one message over the paired connection (opened if there is none) and reads
/// the answer. A kept connection that turns out closed before any of the answer came
/// (the replica restarted just now) is replaced and the message sent again once, as
/// HTTP clients do with their pooled connections.
async fn exchange(
    outbound: &mut Option<Conn>,
    target: &str,
    path: &str,
    body: &[u8],
) -> io::Result<Response> {
    loop {
        let reused = outbound.is_some();
        let conn = match outbound {
            Some(conn) => conn,
            None => outbound.insert(Conn::connect(target).await?),
        };
        let sent = conn.write_request(path, target, body).await;
        let answered = match sent {
            Ok(()) => conn.read_response(BODY_LIMIT).await,
            Err(e) => Err(e),
        };
        match answered {
            Ok(response) => {
                if response.close || !conn.drained() {
                    *outbound = None;
                }
                return Ok(response);
            }
            Err(e) => {
                let stale = reused
                    && conn.drained()
                    && matches!(
                        e.kind(),
                        io::ErrorKind::BrokenPipe
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::UnexpectedEof
                    );
                *outbound = None;
                if !stale {
                    return Err(e);
                }
            }
        }
    }
}

/// Forwards one message over the paired connection and returns the replica's answer
/// (which, for a client's request, a Byzantine replica may turn into a lie).
async fn forward_paired(
    shared: &Shared,
    link: Link,
    outbound: &mut Option<Conn>,
    is_request: bool,
    body: Bytes,
) -> Answer {
    let (path, timeout) = if is_request {
        ("/request", REQUEST_TIMEOUT)
    } else {
        ("/pbft", PEER_TIMEOUT)
    };
    let target = &shared.targets[link.to];
    let exchanged = tokio::time::timeout(timeout, exchange(outbound, target, path, &body)).await;
    match exchanged {
        Ok(Ok(response)) => {
            let mut body = response.body;
            if is_request && response.status.is_success() {
                body = shared.reply_as_sent(link, body);
            }
            Answer::json(response.status, body)
        }
        Ok(Err(e)) => {
            tracing::trace!(%link, error = %e, "forward failed");
            Answer::status(StatusCode::SERVICE_UNAVAILABLE)
        }
        Err(_) => {
            tracing::trace!(%link, "forward timed out");
            *outbound = None;
            Answer::status(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Proxy;
    use super::*;
    use crate::rule::Rule;
    use rand_chacha::ChaCha8Rng;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;
    use tokio::task::JoinSet;

    /// A stand-in replica: answers `/pbft` with 202 and `/request` with its body,
    /// counting what it got.
    struct Replica {
        got: Arc<AtomicUsize>,
        conns: JoinSet<()>,
    }

    impl Replica {
        async fn start(listener: TcpListener) -> Replica {
            let got = Arc::new(AtomicUsize::new(0));
            let mut conns = JoinSet::new();
            let seen = Arc::clone(&got);
            conns.spawn(async move {
                let mut served = JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let seen = Arc::clone(&seen);
                    served.spawn(async move {
                        let mut conn = Conn::new(stream);
                        while let Ok(Some(r)) = conn.read_request(1 << 20).await {
                            seen.fetch_add(1, Ordering::SeqCst);
                            let answer = if r.is_request {
                                Answer::json(StatusCode::OK, r.body)
                            } else {
                                Answer::status(StatusCode::ACCEPTED)
                            };
                            if conn.write_answer(&answer, false).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
            Replica { got, conns }
        }

        fn got(&self) -> usize {
            self.got.load(Ordering::SeqCst)
        }
    }

    /// Drops every message.
    struct DropAll;

    impl Rule for DropAll {
        fn on_message(&self, _: &Message, _: &mut ChaCha8Rng) -> Verdict {
            Verdict::Drop
        }
        fn describe(&self) -> String {
            "drop all".into()
        }
    }

    async fn post(http: &reqwest::Client, addr: &str, path: &str, body: &str) -> (u16, String) {
        let resp = http
            .post(format!("http://{addr}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the proxy answers");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("a body"))
    }

    const COMMIT: &str = r#"{"type":"commit","view":0}"#;

    #[tokio::test]
    async fn messages_pass_while_healed_and_meet_the_rules_otherwise() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap().to_string();
        let replica = Replica::start(listener).await;
        let proxy = Proxy::start(vec![target.clone(), target], 7).await.unwrap();
        let http = reqwest::Client::new();
        let (peer, client) = (proxy.peer_addr(0, 1), proxy.client_addr(1));

        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 202);
        assert_eq!(
            post(&http, &client, "/request", "[1]").await,
            (200, "[1]".into())
        );
        assert_eq!(replica.got(), 2);

        let guard = proxy.install(DropAll);
        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 202);
        assert_eq!(post(&http, &client, "/request", "[2]").await.0, 503);
        assert_eq!(replica.got(), 2);
        drop(guard);
        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 202);
        assert_eq!(replica.got(), 3);

        // (The stand-in commit is no real one: decoded under a rule, it is "unparsed".)
        let by_link = proxy.counts_by_link();
        let sum = |link: &str| {
            by_link[link]
                .values()
                .fold((0, 0), |(d, x), c| (d + c.delivered, x + c.dropped))
        };
        assert_eq!(by_link["0->1"]["commit"].delivered, 2);
        assert_eq!(sum("0->1"), (2, 1));
        assert_eq!(by_link["clients->1"]["request"].delivered, 1);
        assert_eq!(sum("clients->1"), (1, 1));
    }

    #[tokio::test]
    async fn a_restarted_replica_gets_the_next_message_and_a_dead_one_means_503() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let replica = Replica::start(listener).await;
        let proxy = Proxy::start(vec![addr.to_string(); 2], 7).await.unwrap();
        let http = reqwest::Client::new();
        let peer = proxy.peer_addr(0, 1);
        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 202);

        // Gone: every connection to it closes, nothing listens.
        let Replica { mut conns, .. } = replica;
        conns.shutdown().await;
        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 503);

        // Back on the same port: the same sender connection reaches it.
        let again = Replica::start(TcpListener::bind(addr).await.unwrap()).await;
        assert_eq!(post(&http, &peer, "/pbft", COMMIT).await.0, 202);
        assert_eq!(again.got(), 1);
    }
}
