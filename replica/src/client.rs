//! Clients: [`ClientProtocol`], the sans-IO client side of PBFT (timestamps,
//! signing, f+1 matching signed replies), and [`Client`], an async HTTP client that
//! sends to the primary (plus f backups, to collect f+1 replies), re-broadcasts to
//! all replicas after a retransmission timeout, and returns once f+1 replicas sent
//! matching signed replies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{SigningKey, VerifyingKey};
use tokio::task::JoinSet;

use crate::bugs::ClientBug;
use crate::config::ClusterConfig;
use crate::crypto::{parse_public_key, Signed};
use crate::error::Error;
use crate::messages::{ClientId, ReplicaId, Reply, Request, View};
use crate::state_machine::{OpResult, Operation};

/// Why an invocation did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No f+1 matching replies in time: the operation may or may not take effect
    /// (record it as indeterminate).
    #[error("timed out after {0:?} (outcome unknown)")]
    Timeout(Duration),
    /// More than f replicas definitively refused the request (it will not execute).
    #[error("request rejected: {0}")]
    Rejected(String),
    /// The client is misconfigured.
    #[error(transparent)]
    Config(#[from] Error),
}

/// Each replica's reply to the current request: (view, result).
type Votes = BTreeMap<ReplicaId, (View, OpResult)>;

/// The client's protocol state, without IO.
#[derive(Debug)]
pub struct ClientProtocol {
    id: ClientId,
    key: SigningKey,
    replicas: Vec<VerifyingKey>,
    f: usize,
    view: View,
    last_timestamp: u64,
    /// The current request's timestamp and each replica's (view, result).
    current: Option<(u64, Votes)>,
    last_quorum: Vec<ReplicaId>,
    /// Seeded client bug (self-test only).
    bug: Option<ClientBug>,
}

impl ClientProtocol {
    /// A client of the cluster with this id and signing key.
    pub fn new(config: &ClusterConfig, id: ClientId, key: SigningKey) -> Result<Self, Error> {
        let replicas = config
            .replicas
            .iter()
            .map(|r| parse_public_key(&r.public_key, &format!("replica {}", r.id)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClientProtocol {
            id,
            key,
            replicas,
            f: config.f,
            view: 0,
            last_timestamp: 0,
            current: None,
            last_quorum: Vec::new(),
            bug: None,
        })
    }

    /// Switches a seeded client bug on (ignored without the `seeded-bugs` feature).
    pub fn set_bug(&mut self, bug: ClientBug) {
        if ClientBug::available() {
            self.bug = Some(bug);
        }
    }

    /// The primary of the newest view that f+1 matching replies vouched for.
    pub fn primary(&self) -> ReplicaId {
        (self.view % self.replicas.len() as u64) as ReplicaId
    }

    /// The replicas whose matching replies completed the last request.
    pub fn last_quorum(&self) -> &[ReplicaId] {
        &self.last_quorum
    }

    /// Number of replicas.
    pub fn n(&self) -> usize {
        self.replicas.len()
    }

    /// Fault bound f.
    pub fn f(&self) -> usize {
        self.f
    }

    /// Client id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Timestamps from now on are above `t` (a restarted client resumes above every
    /// timestamp it may have used: see [`TimestampFloor`]).
    pub fn resume_after(&mut self, t: u64) {
        self.last_timestamp = self.last_timestamp.max(t);
    }

    /// The timestamp of the newest request started (0 before the first).
    pub fn last_timestamp(&self) -> u64 {
        self.last_timestamp
    }

    /// The timestamp the next request gets at clock time `now_us`.
    pub fn next_timestamp(&self, now_us: u64) -> u64 {
        now_us.max(self.last_timestamp + 1)
    }

    /// Starts a new request; its timestamp is above every earlier one of this
    /// `ClientProtocol` (and those before [`resume_after`](Self::resume_after)), and
    /// at least `now_us`.
    pub fn start(&mut self, op: Operation, now_us: u64) -> Signed<Request> {
        let timestamp = self.next_timestamp(now_us);
        self.last_timestamp = timestamp;
        self.current = Some((timestamp, BTreeMap::new()));
        Signed::sign(
            Request {
                client: self.id,
                timestamp,
                op,
            },
            &self.key,
        )
    }

    /// Takes a reply; returns the result once f+1 distinct replicas sent matching,
    /// correctly signed replies for the current request. Bad replies are ignored.
    pub fn on_reply(&mut self, reply: &Signed<Reply>) -> Option<OpResult> {
        let r = &reply.body;
        let key = self.replicas.get(r.replica as usize)?;
        let (t, votes) = self.current.as_mut()?;
        if r.client != self.id || r.timestamp != *t || reply.verify_with(key).is_err() {
            return None;
        }
        votes.insert(r.replica, (r.view, r.result.clone()));
        let matching: Vec<(ReplicaId, View)> = votes
            .iter()
            .filter(|(_, (_, res))| *res == r.result)
            .map(|(i, (v, _))| (*i, *v))
            .collect();
        // Seeded bug `accept-first-reply`: one reply is taken as the answer.
        let needed = match self.bug {
            Some(ClientBug::AcceptFirstReply) => 1,
            None => self.f + 1,
        };
        if matching.len() >= needed {
            // The view comes from the quorum only: the highest view that f+1 of the
            // matching replies reached (so at least one correct replica is in it).
            // A single reply's view is no evidence: one Byzantine replica claiming a
            // high view would make the client send to it first, forever.
            let mut views: Vec<View> = matching.iter().map(|(_, v)| *v).collect();
            views.sort_unstable_by(|a, b| b.cmp(a));
            self.view = self.view.max(views[needed - 1]);
            self.last_quorum = matching.iter().map(|(i, _)| *i).collect();
            self.current = None;
            return Some(r.result.clone());
        }
        None
    }
}

/// Timestamps reserved per write of a [`TimestampFloor`] (about 1 s of clock time).
const TIMESTAMP_BLOCK: u64 = 1 << 20;

/// Keeps a client's timestamps increasing across restarts whatever the wall clock
/// does: a file holds a bound above every timestamp the client may have used.
///
/// Timestamps are reserved in blocks: the file is rewritten (atomically, fsynced)
/// only when a timestamp reaches the bound, so most requests cost no IO. A client
/// restarted with its clock set back resumes above the bound instead of reusing a
/// timestamp, which a replica would answer with the stored result of another
/// operation (or refuse as stale).
#[derive(Debug)]
pub struct TimestampFloor {
    path: PathBuf,
    reserved: u64,
}

impl TimestampFloor {
    /// Opens (or creates) the file; [`floor`](Self::floor) is the bound it held.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let reserved = match std::fs::read_to_string(path) {
            Ok(s) => s
                .trim()
                .parse()
                .map_err(|e| Error::Config(format!("timestamp file {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::io("read", path, e)),
        };
        Ok(TimestampFloor {
            path: path.to_path_buf(),
            reserved,
        })
    }

    /// Every timestamp used before the file was opened is at most this.
    pub fn floor(&self) -> u64 {
        self.reserved
    }

    /// Makes `t` usable: if it reaches the reserved bound, reserves a new block
    /// (durably) before returning.
    pub fn reserve(&mut self, t: u64) -> Result<(), Error> {
        if t < self.reserved {
            return Ok(());
        }
        let next = t.saturating_add(TIMESTAMP_BLOCK);
        crate::storage::wal::write_atomic(&self.path, next.to_string().as_bytes())?;
        self.reserved = next;
        Ok(())
    }
}

/// An async PBFT client over HTTP.
#[derive(Debug)]
pub struct Client {
    proto: ClientProtocol,
    addrs: Vec<String>,
    http: reqwest::Client,
    retransmit: Duration,
    floor: Option<TimestampFloor>,
    on_request: Option<RequestHook>,
}

/// Told `(client, timestamp)` of every request before it is sent (see
/// [`Client::on_request`]).
#[derive(Clone)]
pub struct RequestHook(pub std::sync::Arc<dyn Fn(ClientId, u64) + Send + Sync>);

impl std::fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestHook")
    }
}

/// What one `POST /request` produced.
enum Answer {
    Reply(Box<Signed<Reply>>),
    Refused(String),
    Silent,
}

impl Client {
    /// Calls `hook` with `(client, timestamp)` of every request before it is sent, so
    /// a request whose answer is never awaited is still known to have been sent.
    pub fn on_request(&mut self, hook: RequestHook) {
        self.on_request = Some(hook);
    }

    /// A client that reaches replica `i` at `config.replicas[i].listen`.
    pub fn new(config: &ClusterConfig, id: ClientId, key: SigningKey) -> Result<Self, ClientError> {
        Self::with_addrs(config, id, key, config.listen_addrs())
    }

    /// A client that reaches replica `i` at `addrs[i]` (e.g. through a proxy).
    pub fn with_addrs(
        config: &ClusterConfig,
        id: ClientId,
        key: SigningKey,
        addrs: Vec<String>,
    ) -> Result<Self, ClientError> {
        if addrs.len() != config.n() {
            return Err(Error::Config(format!(
                "{} addresses for {} replicas",
                addrs.len(),
                config.n()
            ))
            .into());
        }
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(8)
            .build()
            .map_err(|e| Error::Config(format!("http client: {e}")))?;
        Ok(Client {
            proto: ClientProtocol::new(config, id, key)?,
            addrs,
            http,
            retransmit: Duration::from_millis(1000),
            floor: None,
            on_request: None,
        })
    }

    /// Keeps this client's timestamps in `path` so that they keep increasing across
    /// restarts of the client, whatever the wall clock does (see [`TimestampFloor`]).
    /// Without it a client restarted with its clock set back reuses timestamps.
    pub fn with_timestamp_file(mut self, path: &Path) -> Result<Self, ClientError> {
        let floor = TimestampFloor::open(path)?;
        self.proto.resume_after(floor.floor());
        self.floor = Some(floor);
        Ok(self)
    }

    /// Sets the retransmission timeout (default 1 s).
    pub fn set_retransmit(&mut self, d: Duration) {
        self.retransmit = d;
    }

    /// Switches a seeded client bug on (ignored without the `seeded-bugs` feature).
    pub fn set_bug(&mut self, bug: ClientBug) {
        self.proto.set_bug(bug);
    }

    /// The client's protocol state.
    pub fn protocol(&self) -> &ClientProtocol {
        &self.proto
    }

    fn send(
        &self,
        tasks: &mut JoinSet<(ReplicaId, Answer)>,
        to: ReplicaId,
        body: &[u8],
        wait: Duration,
    ) {
        let url = format!("http://{}/request", self.addrs[to as usize]);
        let req = self
            .http
            .post(url)
            .timeout(wait)
            .header("content-type", "application/json")
            .body(body.to_vec());
        tasks.spawn(async move {
            let answer = match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    match resp.json::<Signed<Reply>>().await {
                        Ok(r) => Answer::Reply(Box::new(r)),
                        Err(_) => Answer::Silent,
                    }
                }
                Ok(resp) if resp.status().is_client_error() => {
                    Answer::Refused(resp.text().await.unwrap_or_default())
                }
                _ => Answer::Silent,
            };
            (to, answer)
        });
    }

    /// Executes `op`, waiting at most `timeout`. A [`ClientError::Timeout`] means
    /// the outcome is unknown; [`ClientError::Rejected`] means it did not execute.
    pub async fn invoke(
        &mut self,
        op: Operation,
        timeout: Duration,
    ) -> Result<OpResult, ClientError> {
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        if let Some(floor) = &mut self.floor {
            floor.reserve(self.proto.next_timestamp(now_us))?;
        }
        let request = self.proto.start(op, now_us);
        if let Some(hook) = &self.on_request {
            (hook.0)(self.proto.id(), self.proto.last_timestamp());
        }
        let body = serde_json::to_vec(&request).expect("requests serialize");
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tasks = JoinSet::new();
        let (n, f, primary) = (
            self.proto.n() as ReplicaId,
            self.proto.f() as u64,
            self.proto.primary(),
        );
        // The primary orders the request; f more replicas are asked so that f+1
        // replies can come back over HTTP in the fault-free case: those that answered
        // last time, else a rotation by client id.
        let mut targets = vec![primary];
        let rotation = (0..n as u64 - 1).map(|k| {
            ((primary as u64 + 1 + (self.proto.id() + k) % (n as u64 - 1)) % n as u64) as ReplicaId
        });
        for r in self.proto.last_quorum().iter().copied().chain(rotation) {
            if targets.len() as u64 > f {
                break;
            }
            if !targets.contains(&r) {
                targets.push(r);
            }
        }
        for &t in &targets {
            self.send(&mut tasks, t, &body, timeout);
        }
        let mut refused: BTreeMap<ReplicaId, String> = BTreeMap::new();
        let mut next_retransmit = tokio::time::Instant::now() + self.retransmit;
        loop {
            tokio::select! {
                // Overall deadline: the outcome is unknown.
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ClientError::Timeout(timeout));
                }
                // Retransmission: broadcast to every replica (backups relay to the primary).
                _ = tokio::time::sleep_until(next_retransmit) => {
                    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                    for i in 0..n {
                        self.send(&mut tasks, i, &body, left);
                    }
                    next_retransmit += self.retransmit;
                }
                // A replica answered.
                Some(joined) = tasks.join_next() => {
                    let Ok((from, answer)) = joined else { continue };
                    match answer {
                        Answer::Reply(reply) => {
                            if let Some(result) = self.proto.on_reply(&reply) {
                                return Ok(result);
                            }
                        }
                        Answer::Refused(why) => {
                            refused.insert(from, why);
                            if refused.len() as u64 > f {
                                let why = refused.values().next().cloned().unwrap_or_default();
                                return Err(ClientError::Rejected(why));
                            }
                        }
                        Answer::Silent => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (ClientProtocol, Vec<SigningKey>) {
        let keys: Vec<SigningKey> = (0..4u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 7000 + i)).collect();
        let client_key = SigningKey::from_bytes(&[99; 32]);
        let config = ClusterConfig::local(1, &keys, &listen, &[(7, client_key.clone())]);
        (ClientProtocol::new(&config, 7, client_key).unwrap(), keys)
    }

    fn reply(keys: &[SigningKey], replica: ReplicaId, view: View, t: u64) -> Signed<Reply> {
        Signed::sign(
            Reply {
                view,
                timestamp: t,
                client: 7,
                replica,
                result: OpResult::Write,
            },
            &keys[replica as usize],
        )
    }

    /// One Byzantine replica (3) signs its replies with view 3: the client used to
    /// adopt it from that single reply and send every later request to replica 3 first.
    #[test]
    fn client_does_not_adopt_the_view_of_a_single_reply() {
        let (mut c, keys) = setup();
        for round in 0..3 {
            let t = c
                .start(
                    Operation::Write {
                        key: "k".into(),
                        value: serde_json::json!(round),
                    },
                    0,
                )
                .body
                .timestamp;
            assert_eq!(c.on_reply(&reply(&keys, 3, 3, t)), None);
            assert_eq!(c.on_reply(&reply(&keys, 1, 0, t)), Some(OpResult::Write));
            assert_eq!(c.primary(), 0, "one reply's view is not evidence");
        }
        // f+1 replies that agree on a view move the client.
        let t = c
            .start(Operation::Read { key: "k".into() }, 0)
            .body
            .timestamp;
        assert_eq!(c.on_reply(&reply(&keys, 2, 1, t)), None);
        assert!(c.on_reply(&reply(&keys, 3, 1, t)).is_some());
        assert_eq!(c.primary(), 1, "f+1 replicas vouch for view 1");
    }

    /// A client restarted with its clock set back: with a [`TimestampFloor`] its
    /// next timestamp is above every one it used before the restart.
    #[test]
    fn client_timestamps_increase_across_a_restart_with_the_clock_set_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client-7.ts");
        let (mut c, _) = setup();
        let mut floor = TimestampFloor::open(&path).unwrap();
        c.resume_after(floor.floor());
        let mut used = Vec::new();
        for now_us in [5_000_000, 5_000_001, 9_000_000] {
            floor.reserve(c.next_timestamp(now_us)).unwrap();
            used.push(
                c.start(Operation::Read { key: "k".into() }, now_us)
                    .body
                    .timestamp,
            );
        }
        drop((c, floor));
        // Restart; the clock was set back by an hour.
        let (mut c, _) = setup();
        let floor = TimestampFloor::open(&path).unwrap();
        c.resume_after(floor.floor());
        let t = c
            .start(Operation::Read { key: "k".into() }, 1_000)
            .body
            .timestamp;
        assert!(
            used.iter().all(|u| t > *u),
            "timestamp {t} after the restart reuses or precedes {used:?}"
        );
    }
}
