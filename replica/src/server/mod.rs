//! The HTTP shell around the engine (axum), bound to 127.0.0.1:
//!
//! | route | |
//! |---|---|
//! | `POST /pbft` | a [`PeerMessage`] from another replica (202 accepted, 403 bad signature) |
//! | `POST /request` | a signed client request; answers with this replica's signed REPLY once executed, or 504 `{"error":"timeout"}` |
//! | `GET /status` | [`ReplicaStatus`] |
//! | `GET /log` | `[{"seq":n,"digest":hex,"requests":[{"client":c,"timestamp":t}]}, ...]`, every executed sequence number (`"transferred":true` marks one learnt by state transfer); `?from=SEQ` gives those at or above `SEQ` |
//! | `GET /clock`, `POST /clock` | [`ClockSettings`] `{"offset_ms":i64,"rate":f64}` |
//!
//! Signatures are verified in the request handlers (on tokio's worker threads), so
//! the engine task stays single-threaded and only sees [`Verified`] inputs.

pub mod limits;
pub mod network;
pub mod node;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ed25519_dalek::SigningKey;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::clock::{Clock, ClockSettings};
use crate::config::{ClusterConfig, FsyncPolicy, ProtocolConfig};
use crate::core::rejection::{valid_tag, Rejection};
use crate::core::{Input, Replica, ReplicaStatus};
use crate::crypto::Signed;
use crate::error::{Error, Result};
use crate::messages::{PeerMessage, ReplicaId, Request};
use crate::storage::{LogEntry, Storage};
use crate::verifier::{Verified, Verifier};
use limits::{LimitedListener, ServerLimits};
use node::CoreMsg;

/// The HTTP header a sender may label a peer message with, for the per-tag counts in
/// `GET /status` (the Byzantine proxy names the mutator that made the message).
pub const TAG_HEADER: &str = "x-pbft-tag";

/// Everything a replica process needs to run.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// This replica's id.
    pub id: ReplicaId,
    /// The cluster file.
    pub cluster: ClusterConfig,
    /// This replica's signing key.
    pub key: SigningKey,
    /// Where the WAL, snapshot and history live.
    pub data_dir: PathBuf,
    /// fsync policy of the WAL.
    pub fsync: FsyncPolicy,
    /// Protocol parameters.
    pub protocol: ProtocolConfig,
    /// How long `POST /request` waits for execution.
    pub request_timeout: Duration,
    /// Bounds on bodies, connections and send queues.
    pub limits: ServerLimits,
}

#[derive(Clone)]
struct AppState {
    core: mpsc::Sender<CoreMsg>,
    verifier: Arc<Verifier>,
    clock: Arc<Clock>,
    request_timeout: Duration,
}

/// A replica bound to its listen address, ready to [`Server::serve`].
#[derive(Debug)]
pub struct Server {
    listener: LimitedListener,
    router: Router,
    core: tokio::task::JoinHandle<Result<()>>,
}

impl Server {
    /// Recovers from the data directory, starts the engine task and binds the
    /// listen address from the cluster file (it must be a 127.0.0.1 address).
    pub async fn start(opts: ServerOptions) -> Result<Self> {
        opts.cluster.validate()?;
        opts.protocol.validate()?;
        let me = opts.cluster.replicas.get(opts.id as usize).ok_or_else(|| {
            Error::Config(format!("replica id {} is not in the cluster file", opts.id))
        })?;
        let public = hex::encode(opts.key.verifying_key().as_bytes());
        if public != me.public_key {
            return Err(Error::Config(format!(
                "the key file does not match replica {}'s public key in the cluster file",
                opts.id
            )));
        }
        let addr: SocketAddr = me
            .listen
            .parse()
            .map_err(|e| Error::Config(format!("listen address {:?}: {e}", me.listen)))?;
        if !addr.ip().is_loopback() {
            return Err(Error::Config(format!(
                "listen address {addr} is not loopback"
            )));
        }
        let verifier = Arc::new(Verifier::new(&opts.cluster)?);
        let (storage, recovered) =
            Storage::open_with_bugs(&opts.data_dir, opts.fsync, opts.protocol.bugs)?;
        let n = opts.cluster.n();
        let replica = Replica::recover(
            opts.id,
            n,
            opts.protocol.clone(),
            opts.key.clone(),
            recovered.snapshot,
            recovered.records,
        );
        tracing::info!(
            replica = opts.id,
            last_executed = replica.last_executed(),
            history = recovered.history.len(),
            "recovered from {}",
            opts.data_dir.display()
        );
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io("bind", PathBuf::from(addr.to_string()), e))?;
        let clock = Arc::new(Clock::new());
        let (tx, rx) = mpsc::channel(8192);
        let net = network::Network::with_limits(&opts.cluster, opts.id, opts.limits.peer_queue);
        let node = node::Node {
            replica,
            key: opts.key.clone(),
            storage,
            history: recovered.history,
            net,
            clock: clock.clone(),
            tx: tx.clone(),
        };
        let core = tokio::spawn(node::run_core(node, rx));
        let state = AppState {
            core: tx,
            verifier,
            clock,
            request_timeout: opts.request_timeout,
        };
        let router = Router::new()
            .route("/pbft", post(pbft))
            .route("/request", post(request))
            .route("/status", get(status))
            .route("/log", get(log))
            .route("/clock", get(get_clock).post(set_clock))
            // STATE and NEW-VIEW answers carry state, digests and whole batches: far
            // more than axum's 2 MB default body limit in a long run.
            .layer(axum::extract::DefaultBodyLimit::max(
                opts.limits.max_body_bytes,
            ))
            .with_state(state);
        Ok(Server {
            listener: LimitedListener::new(listener, opts.limits.max_connections),
            router,
            core,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        axum::serve::Listener::local_addr(&self.listener)
            .map_err(|e| Error::io("local address", PathBuf::new(), e))
    }

    /// Serves until `shutdown` resolves or the engine stops (storage failure).
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let serve = axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown);
        tokio::select! {
            // The HTTP server ended (shutdown requested or accept failed).
            r = serve => r.map_err(|e| Error::io("serve", PathBuf::new(), e)),
            // The engine task ended: only on a storage error, which is fatal.
            r = self.core => match r {
                Ok(r) => r,
                Err(e) => Err(Error::Config(format!("engine task failed: {e}"))),
            },
        }
    }
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": msg.to_string() }))).into_response()
}

/// The label a sender put on a peer message (`x-pbft-tag`), if it is one a replica
/// keeps (see [`crate::core::rejection`]).
fn tag_of(headers: &HeaderMap) -> Option<String> {
    let tag = headers.get(TAG_HEADER)?.to_str().ok()?;
    valid_tag(tag).then(|| tag.to_string())
}

async fn pbft(State(s): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let tag = tag_of(&headers);
    let refuse = |why: Rejection, tag: Option<String>| {
        let core = s.core.clone();
        async move {
            let _ = core.send(CoreMsg::Refused { why, tag }).await;
        }
    };
    let msg: PeerMessage = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            refuse(Rejection::Malformed, tag).await;
            return error(StatusCode::BAD_REQUEST, e);
        }
    };
    let verified = match s.verifier.verify_peer(msg) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "peer message rejected");
            let why = match e {
                Error::BadSignature { .. } => Rejection::BadSignature,
                _ => Rejection::Malformed,
            };
            refuse(why, tag).await;
            return error(StatusCode::FORBIDDEN, e);
        }
    };
    let input = Input::Peer(verified);
    let msg = match tag {
        Some(tag) => CoreMsg::Tagged { input, tag },
        None => CoreMsg::Input(input),
    };
    if s.core.send(msg).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    StatusCode::ACCEPTED.into_response()
}

async fn request(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let req: Signed<Request> = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let request: Verified<Signed<Request>> = match s.verifier.verified_request(req) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::FORBIDDEN, e),
    };
    let (tx, rx) = oneshot::channel();
    if s.core
        .send(CoreMsg::Request {
            request,
            reply_to: tx,
        })
        .await
        .is_err()
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match tokio::time::timeout(s.request_timeout, rx).await {
        Ok(Ok(reply)) => Json(reply).into_response(),
        _ => error(StatusCode::GATEWAY_TIMEOUT, "timeout"),
    }
}

async fn status(State(s): State<AppState>) -> Response {
    let (tx, rx) = oneshot::channel();
    let _ = s.core.send(CoreMsg::Status(tx)).await;
    match rx.await {
        Ok(st) => Json::<ReplicaStatus>(st).into_response(),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

/// `GET /log?from=SEQ`: only the entries at or above `SEQ` (for watchers that poll).
#[derive(Debug, serde::Deserialize)]
struct LogQuery {
    from: Option<u64>,
}

async fn log(State(s): State<AppState>, Query(q): Query<LogQuery>) -> Response {
    let (tx, rx) = oneshot::channel();
    let _ = s.core.send(CoreMsg::Log(tx)).await;
    match rx.await {
        Ok(mut h) => {
            if let Some(from) = q.from {
                h.retain(|e| e.seq >= from);
            }
            Json::<Vec<LogEntry>>(h).into_response()
        }
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

async fn get_clock(State(s): State<AppState>) -> Json<ClockSettings> {
    Json(s.clock.settings())
}

async fn set_clock(
    State(s): State<AppState>,
    Json(settings): Json<ClockSettings>,
) -> Json<ClockSettings> {
    s.clock.set(settings);
    Json(s.clock.settings())
}
