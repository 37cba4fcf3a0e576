//! The interposing proxy: one listener on 127.0.0.1 for every directed link (replica i
//! to replica j, and the clients to replica j). Replicas and clients are given these
//! addresses instead of each other's, so every message crosses exactly one listener
//! and the proxy knows its link without trusting anything in it.
//!
//! Each HTTP request is one message. The proxy decodes it ([`Message`]), asks the
//! installed rules for a [`Verdict`], counts it, and acts:
//!
//! | verdict | peer message (`POST /pbft`) | client request (`POST /request`) |
//! |---|---|---|
//! | deliver | forward, answer with the receiver's answer | same |
//! | drop | answer 202 as if delivered | answer 503 (the client hears nothing useful) |
//! | delay | answer 202, forward later | forward later, then answer |
//! | duplicate | forward twice | same (the second answer is discarded) |
//! | hold | answer 202, forward after the link's next message (or after 100 ms) | forward after 50 ms |
//! | replay | forward, and forward an earlier message of the link again | same |
//!
//! While no rule and no Byzantine replica is installed, a message takes a fast path
//! (the `conn` module): counted by its type tag alone and passed over a connection of
//! the proxy's own paired with the sender's, with the same answers as "deliver" above.
//!
//! Byzantine replicas ([`Proxy::install_byzantine`]) are one more rule of the same
//! table, speaking for their senders: the table's mutation stage ([`Rule::mutate`])
//! rewrites a faulty replica's outgoing messages first; every message that results,
//! extra ones included, then meets the verdicts like any message, in the order the
//! mutator produced them (so a cut isolates a Byzantine primary's twin PRE-PREPAREs
//! too, and their order follows the seed), and is counted once. Its replies to
//! clients may be lies, and requests of a censored client never reach it.

#[cfg(test)]
mod byzantine_tests;
mod conn;
mod counters;
mod wire;

pub use counters::LinkCounts;

use crate::byzantine::{Byzantine, ByzantineRule, MutationCounts};
use crate::error::{Error, Result};
use crate::link::Link;
use crate::message::Message;
use crate::rule::{Mutate, Rule, RuleGuard, RuleTable, Verdict};
use axum::body::Bytes;
use axum::http::StatusCode;
use counters::Counters;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::server::TAG_HEADER;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use wire::Answer;

/// Earlier messages kept per link for replays.
const REPLAY_RING: usize = 16;
/// The longest a held (reordered) peer message waits for the next one.
const HOLD_MAX: Duration = Duration::from_millis(100);
/// How long a held client request waits.
const HOLD_REQUEST: Duration = Duration::from_millis(50);
/// Time limit of a forwarded peer message (the replicas' own send timeout).
const PEER_TIMEOUT: Duration = Duration::from_secs(2);
/// Time limit of a forwarded client request (the client gives up well before).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest body accepted (the replicas' own limit).
const BODY_LIMIT: usize = 256 * 1024 * 1024;

type Recent = BTreeMap<Link, VecDeque<(bool, Bytes)>>;
/// The label a message is forwarded with: the mutator that made it, if any.
type Tag = Option<&'static str>;

struct Shared {
    rules: Arc<Mutex<RuleTable>>,
    rng: Mutex<ChaCha8Rng>,
    counters: Counters,
    http: reqwest::Client,
    /// Replica `j`'s real address.
    targets: Vec<String>,
    /// Recent messages per link (is_request, body), for replays.
    recent: Mutex<Recent>,
    /// Held messages per link.
    held: Mutex<BTreeMap<Link, Vec<(Bytes, Tag)>>>,
    /// Every Byzantine set ever installed (for the counters).
    byzantine_seen: Mutex<Vec<Arc<Byzantine>>>,
}

/// Removes the Byzantine behaviour's rule from the proxy when dropped.
#[must_use = "dropping the guard makes the replicas correct again at once"]
#[derive(Debug)]
pub struct ByzantineGuard {
    _rule: RuleGuard,
    byzantine: Arc<Byzantine>,
}

impl ByzantineGuard {
    /// What was mutated so far under this guard.
    pub fn counts(&self) -> MutationCounts {
        self.byzantine.counts()
    }

    /// The installed behaviour.
    pub fn byzantine(&self) -> &Byzantine {
        &self.byzantine
    }
}

/// The running proxy; dropping it stops every listener.
pub struct Proxy {
    shared: Arc<Shared>,
    addrs: BTreeMap<Link, SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("addrs", &self.addrs).finish()
    }
}

impl Proxy {
    /// Binds a listener on 127.0.0.1 for every directed link of a cluster whose replica
    /// `j` listens at `targets[j]`, and starts serving. `seed` drives every random
    /// verdict.
    pub async fn start(targets: Vec<String>, seed: u64) -> Result<Proxy> {
        let n = targets.len();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| Error::Proxy(format!("http client: {e}")))?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(crate::streams::PROXY);
        let shared = Arc::new(Shared {
            rules: Arc::new(Mutex::new(RuleTable::default())),
            rng: Mutex::new(rng),
            counters: Counters::default(),
            http,
            targets,
            recent: Mutex::new(BTreeMap::new()),
            held: Mutex::new(BTreeMap::new()),
            byzantine_seen: Mutex::new(Vec::new()),
        });
        let mut addrs = BTreeMap::new();
        let mut tasks = Vec::new();
        for link in Link::all(n) {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| Error::Proxy(format!("cannot bind a listener for {link}: {e}")))?;
            let addr = listener
                .local_addr()
                .map_err(|e| Error::Proxy(format!("listener address for {link}: {e}")))?;
            addrs.insert(link, addr);
            tasks.push(tokio::spawn(accept(listener, Arc::clone(&shared), link)));
        }
        Ok(Proxy {
            shared,
            addrs,
            tasks,
        })
    }

    /// The address replica `from` must use to reach replica `to`.
    pub fn peer_addr(&self, from: usize, to: usize) -> String {
        self.addrs[&Link::peer(from, to)].to_string()
    }

    /// The address clients must use to reach replica `to`.
    pub fn client_addr(&self, to: usize) -> String {
        self.addrs[&Link::client(to)].to_string()
    }

    /// Installs a rule; it applies until the guard is dropped.
    pub fn install(&self, rule: impl Rule) -> RuleGuard {
        RuleGuard::new(&self.shared.rules, Arc::new(rule))
    }

    /// Makes replicas Byzantine until the guard is dropped: a rule whose mutation
    /// stage speaks for them (an earlier installed set, if still in force, acts first
    /// on the messages both speak for).
    pub fn install_byzantine(&self, byzantine: Byzantine) -> ByzantineGuard {
        let byzantine = Arc::new(byzantine);
        let rule = RuleGuard::new(
            &self.shared.rules,
            Arc::new(ByzantineRule(Arc::clone(&byzantine))),
        );
        self.shared
            .byzantine_seen
            .lock()
            .expect("byzantine list poisoned")
            .push(Arc::clone(&byzantine));
        ByzantineGuard {
            _rule: rule,
            byzantine,
        }
    }

    /// Everything Byzantine replicas mutated over the whole run.
    pub fn mutation_counts(&self) -> MutationCounts {
        let mut total = MutationCounts::default();
        let seen = self
            .shared
            .byzantine_seen
            .lock()
            .expect("byzantine list poisoned");
        for b in seen.iter() {
            let c = b.counts();
            total.total += c.total;
            for (m, n) in c.delivered {
                *total.delivered.entry(m).or_default() += n;
            }
            for (m, n) in c.dropped {
                *total.dropped.entry(m).or_default() += n;
            }
            for (m, kinds) in c.by_mutator {
                let into = total.by_mutator.entry(m).or_default();
                for (k, n) in kinds {
                    *into.entry(k).or_default() += n;
                }
            }
        }
        total
    }

    /// Removes every rule, Byzantine behaviour included (the final heal).
    pub fn heal_all(&self) {
        self.shared
            .rules
            .lock()
            .expect("rule table poisoned")
            .clear();
    }

    /// Whether no rule (Byzantine behaviour included) is installed.
    pub fn is_healed(&self) -> bool {
        self.shared
            .rules
            .lock()
            .expect("rule table poisoned")
            .is_empty()
    }

    /// Counters as `{link: {message type: counts}}`.
    pub fn counts_by_link(&self) -> BTreeMap<String, BTreeMap<&'static str, LinkCounts>> {
        self.shared.counters.by_link()
    }

    /// Counters summed by message type, plus `"all"`.
    pub fn counts_by_kind(&self) -> BTreeMap<&'static str, LinkCounts> {
        self.shared.counters.by_kind()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts the senders' connections on `link`'s listener, a task for each.
async fn accept(listener: TcpListener, shared: Arc<Shared>, link: Link) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(conn::serve(Arc::clone(&shared), link, stream));
            }
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to close.
                tracing::warn!(%link, error = %e, "proxy listener cannot accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One message arrives on `link`: the rules in force act on it. The mutation stage
/// first (a faulty sender's mutators, a faulty receiver that censors or lies); every
/// message that results, extra ones included (a twin's second PRE-PREPARE, a replayed
/// one), then meets the verdicts in the order the mutator produced them, one after the
/// other, and is counted once.
async fn handle(shared: Arc<Shared>, link: Link, is_request: bool, body: Bytes) -> Answer {
    let rules = shared.rules.lock().expect("rule table poisoned").snapshot();
    let decode = |body: &[u8]| match is_request {
        true => Message::request(link, body),
        false => Message::peer(link, body),
    };
    let msg = decode(&body);
    let (sent, lag, mutated_by) = match rules.mutate(&msg, is_request, &body) {
        None => (vec![(body, msg)], Duration::ZERO, None),
        Some((_, Mutate::Withhold)) => {
            shared.counters.count(link, msg.kind, Verdict::Drop);
            return lost(is_request);
        }
        Some((_, Mutate::Answer(answer))) => {
            shared.counters.count(link, msg.kind, Verdict::Drop);
            return Answer::json(StatusCode::OK, answer);
        }
        Some((rule, Mutate::Send { bodies, lag, tag })) => {
            let sent = bodies.into_iter().map(|b| {
                let m = decode(&b);
                (b, m)
            });
            (sent.collect(), lag, Some((rule, tag)))
        }
    };
    let mut answer = None;
    for (i, (body, msg)) in sent.into_iter().enumerate() {
        if i > 0 && !lag.is_zero() {
            tokio::time::sleep(lag).await;
        }
        let verdict = {
            let mut rng = shared.rng.lock().expect("proxy rng poisoned");
            rules.verdict(&msg, &mut rng)
        };
        shared.counters.count(link, msg.kind, verdict);
        let tag = mutated_by.and_then(|(rule, tag)| {
            let tag = tag?;
            rule.fate(tag, verdict != Verdict::Drop);
            Some(tag)
        });
        let a = act(&shared, link, is_request, (body, tag), verdict).await;
        answer.get_or_insert(a);
    }
    answer.unwrap_or_else(|| lost(is_request))
}

/// The answer to a sender whose message was lost: a client hears nothing useful, a
/// replica is told it was accepted.
fn lost(is_request: bool) -> Answer {
    if is_request {
        Answer::text(StatusCode::SERVICE_UNAVAILABLE, "dropped by the nemesis")
    } else {
        Answer::status(StatusCode::ACCEPTED)
    }
}

/// Does what `verdict` says with one message and its tag (see the module's table).
async fn act(
    shared: &Arc<Shared>,
    link: Link,
    is_request: bool,
    (body, tag): (Bytes, Tag),
    verdict: Verdict,
) -> Answer {
    match verdict {
        Verdict::Deliver => shared.deliver(link, is_request, body, tag).await,
        Verdict::Drop if is_request => {
            Answer::text(StatusCode::SERVICE_UNAVAILABLE, "dropped by the nemesis")
        }
        Verdict::Drop => Answer::status(StatusCode::ACCEPTED),
        Verdict::Delay(d) if is_request => {
            tokio::time::sleep(d).await;
            shared.deliver(link, is_request, body, tag).await
        }
        Verdict::Delay(d) => {
            let shared = Arc::clone(shared);
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                shared.deliver(link, false, body, tag).await;
            });
            Answer::status(StatusCode::ACCEPTED)
        }
        Verdict::Duplicate => {
            let (copy, again) = (Arc::clone(shared), body.clone());
            tokio::spawn(async move { copy.forward(link, is_request, again, tag).await });
            shared.deliver(link, is_request, body, tag).await
        }
        Verdict::Hold if is_request => {
            tokio::time::sleep(HOLD_REQUEST).await;
            shared.deliver(link, is_request, body, tag).await
        }
        Verdict::Hold => {
            shared.hold(link, body, tag);
            Answer::status(StatusCode::ACCEPTED)
        }
        Verdict::Replay => {
            let earlier = shared.earlier(link);
            if let Some((was_request, old)) = earlier {
                let copy = Arc::clone(shared);
                tokio::spawn(async move { copy.forward(link, was_request, old, None).await });
            }
            shared.deliver(link, is_request, body, tag).await
        }
    }
}

impl Shared {
    /// Whether no rule and no Byzantine replica is installed.
    fn is_healed(&self) -> bool {
        self.rules.lock().expect("rule table poisoned").is_empty()
    }

    /// A replica's reply to a client's request as the client gets it: a lie if a rule
    /// in force now (a Byzantine replica) changes it.
    fn reply_as_sent(&self, link: Link, reply: Bytes) -> Bytes {
        let rules = self.rules.lock().expect("rule table poisoned").snapshot();
        rules.reply(link, &reply).unwrap_or(reply)
    }

    /// Forwards now, remembers the message for replays and releases held messages.
    async fn deliver(
        self: &Arc<Self>,
        link: Link,
        is_request: bool,
        body: Bytes,
        tag: Tag,
    ) -> Answer {
        {
            let mut recent = self.recent.lock().expect("recent poisoned");
            let ring = recent.entry(link).or_default();
            if ring.len() == REPLAY_RING {
                ring.pop_front();
            }
            ring.push_back((is_request, body.clone()));
        }
        self.release(link);
        self.forward(link, is_request, body, tag).await
    }

    /// Sends one message to its replica and returns the replica's answer.
    /// A mutated message carries its mutator's name as its tag (`x-pbft-tag`), so the
    /// receiver counts it, and its rejection, under that name.
    async fn forward(&self, link: Link, is_request: bool, body: Bytes, tag: Tag) -> Answer {
        let (path, timeout) = if is_request {
            ("/request", REQUEST_TIMEOUT)
        } else {
            ("/pbft", PEER_TIMEOUT)
        };
        let url = format!("http://{}{path}", self.targets[link.to]);
        let mut post = self
            .http
            .post(url)
            .timeout(timeout)
            .header("content-type", "application/json");
        if let Some(tag) = tag {
            post = post.header(TAG_HEADER, tag);
        }
        let answer = post.body(body).send().await;
        match answer {
            Ok(resp) => {
                let status =
                    StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                match resp.bytes().await {
                    Ok(mut bytes) => {
                        // A faulty replica's reply to a client may be a lie.
                        if is_request && status.is_success() {
                            bytes = self.reply_as_sent(link, bytes);
                        }
                        Answer::json(status, bytes)
                    }
                    Err(_) => Answer::status(StatusCode::BAD_GATEWAY),
                }
            }
            Err(e) => {
                tracing::trace!(%link, error = %e, "forward failed");
                Answer::status(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// Holds a peer message until the link's next delivery, or [`HOLD_MAX`].
    fn hold(self: &Arc<Self>, link: Link, body: Bytes, tag: Tag) {
        self.held
            .lock()
            .expect("held poisoned")
            .entry(link)
            .or_default()
            .push((body, tag));
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(HOLD_MAX).await;
            shared.release(link);
        });
    }

    /// Forwards whatever is held on `link` (in the background).
    fn release(self: &Arc<Self>, link: Link) {
        let held = self
            .held
            .lock()
            .expect("held poisoned")
            .remove(&link)
            .unwrap_or_default();
        for (body, tag) in held {
            let shared = Arc::clone(self);
            tokio::spawn(async move { shared.forward(link, false, body, tag).await });
        }
    }

    /// A random earlier message of `link`.
    fn earlier(&self, link: Link) -> Option<(bool, Bytes)> {
        let recent = self.recent.lock().expect("recent poisoned");
        let ring = recent.get(&link)?;
        if ring.is_empty() {
            return None;
        }
        let k = self
            .rng
            .lock()
            .expect("proxy rng poisoned")
            .gen_range(0..ring.len());
        ring.get(k).cloned()
    }
}
