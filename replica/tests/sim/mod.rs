//! A deterministic in-memory network for the sans-IO core: one seeded ChaCha RNG
//! decides delays (hence reordering), duplication and loss. Run with
//! `PBFT_SIM_SEED=<n>` to reproduce a failing seed.
//!
//! Faults beyond the network's: `stop`/`resume` (a paused or crashed process: no
//! messages, no ticks), `isolate`/`heal` (a partition around some replicas, clients
//! included), and a Byzantine interceptor that rewrites, re-signs (with the faulty
//! replica's key) or withholds every message one designated replica sends.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod byzantine;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::client::ClientProtocol;
use replica::config::{ClusterConfig, ProtocolConfig};
use replica::core::record::{kept_at_compaction, Record, Snapshot};
use replica::core::{Input, Output, Replica};
use replica::crypto::{Digest, Signed};
use replica::messages::{PeerMessage, Reply, Request};
use replica::state_machine::{OpResult, Operation};
use replica::verifier::{Verified, Verifier};

/// Fault probabilities of the simulated network.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    pub drop: f64,
    pub duplicate: f64,
    pub max_delay_ms: u64,
}

enum Payload {
    Peer(PeerMessage),
    Request(Signed<Request>),
    Reply(Signed<Reply>),
}

struct Envelope {
    at: u64,
    to: usize,
    payload: Payload,
}

/// Rewrites one message the faulty replica sends to `to`: `None` withholds it.
pub type Interceptor = Box<dyn FnMut(usize, PeerMessage, &SigningKey) -> Option<PeerMessage>>;

/// Decides whether a peer message from `from` to `to` is delivered.
pub type LinkFilter = Box<dyn FnMut(usize, usize, &PeerMessage) -> bool>;

/// Decides whether a client request reaches replica `to`.
pub type RequestFilter = Box<dyn FnMut(usize, &Signed<Request>) -> bool>;

pub struct SimClient {
    pub proto: ClientProtocol,
    pub ops: Vec<Operation>,
    pub done: Vec<OpResult>,
    pub current: Option<(Signed<Request>, u64)>,
}

pub struct Sim {
    pub rng: ChaCha8Rng,
    pub now: u64,
    pub replicas: Vec<Replica>,
    pub keys: Vec<SigningKey>,
    pub client_keys: Vec<(u64, SigningKey)>,
    pub config: ClusterConfig,
    /// A verifier for checks made by the test itself.
    pub verifier: Verifier,
    /// Each replica's own verifier: its request-signature cache is its own, as in
    /// separate processes.
    pub verifiers: Vec<Verifier>,
    pub clients: Vec<SimClient>,
    pub executed: Vec<Vec<(u64, Digest)>>,
    pub faults: Faults,
    pub rejected: usize,
    queue: Vec<Envelope>,
    pub retransmit_ms: u64,
    /// Verification should be a pure function of the message and the receiver:
    /// identical copies to one replica (duplicates, retransmissions) are verified once
    /// to keep the tests fast. Memoized per receiver, so that a verifier whose answer
    /// depends on its cache (the bug of `byzantine_relay_of_a_genuine_request...`)
    /// shows.
    verified: HashMap<(usize, Digest), Option<Verified<PeerMessage>>>,
    /// What each replica persisted: its last stable snapshot and the WAL after it
    /// (the same compaction rule as `storage`).
    pub disks: Vec<(Option<Snapshot>, Vec<Record>)>,
    pub params: ProtocolConfig,
    /// Stopped replicas (crashed or SIGSTOPped): they get no messages and no ticks.
    pub stopped: BTreeSet<usize>,
    /// Replicas cut off from everyone else (replicas and clients).
    pub isolated: BTreeSet<usize>,
    /// The Byzantine replica and the rule rewriting what it sends.
    pub byzantine: Option<(usize, Interceptor)>,
    /// A network rule: a peer message from `from` to `to` is delivered only if it
    /// returns true.
    pub link_filter: Option<LinkFilter>,
    pub request_filter: Option<RequestFilter>,
    /// Peer messages delivered, by kind.
    pub delivered: BTreeMap<&'static str, usize>,
    /// Rejections reported by the replicas, by message kind.
    pub rejected_kinds: BTreeMap<String, usize>,
}

pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("PBFT_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

impl Sim {
    pub fn new(
        seed: u64,
        f: usize,
        clients: usize,
        faults: Faults,
        params: ProtocolConfig,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 3 * f + 1;
        let keys: Vec<SigningKey> = (0..n).map(|_| SigningKey::generate(&mut rng)).collect();
        let client_keys: Vec<(u64, SigningKey)> = (0..clients as u64)
            .map(|c| (c, SigningKey::generate(&mut rng)))
            .collect();
        let listen: Vec<String> = (0..n).map(|i| format!("sim:{i}")).collect();
        let config = ClusterConfig::local(f, &keys, &listen, &client_keys);
        let verifier = Verifier::new(&config).unwrap();
        let verifiers = (0..n).map(|_| Verifier::new(&config).unwrap()).collect();
        let replicas = (0..n)
            .map(|i| Replica::new(i as u32, n, params.clone(), keys[i].clone()))
            .collect();
        let clients = client_keys
            .iter()
            .map(|(id, k)| SimClient {
                proto: ClientProtocol::new(&config, *id, k.clone()).unwrap(),
                ops: Vec::new(),
                done: Vec::new(),
                current: None,
            })
            .collect();
        Sim {
            rng,
            now: 0,
            replicas,
            keys,
            client_keys,
            config,
            verifier,
            verifiers,
            clients,
            executed: vec![Vec::new(); n],
            faults,
            rejected: 0,
            queue: Vec::new(),
            retransmit_ms: 200,
            verified: HashMap::new(),
            disks: vec![(None, Vec::new()); n],
            params,
            stopped: BTreeSet::new(),
            isolated: BTreeSet::new(),
            byzantine: None,
            link_filter: None,
            request_filter: None,
            delivered: BTreeMap::new(),
            rejected_kinds: BTreeMap::new(),
        }
    }

    fn n(&self) -> usize {
        self.replicas.len()
    }

    /// True if the link between replica `from` (None: a client) and `to` is cut.
    fn cut(&self, from: Option<usize>, to: Option<usize>) -> bool {
        let iso = |r: Option<usize>| r.is_some_and(|r| self.isolated.contains(&r));
        iso(from) != iso(to)
    }

    fn post(&mut self, to: usize, payload: Payload) {
        if self.rng.gen_bool(self.faults.drop) {
            return;
        }
        let copies = if self.rng.gen_bool(self.faults.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.now + self.rng.gen_range(0..=self.faults.max_delay_ms);
            let payload = match &payload {
                Payload::Peer(m) => Payload::Peer(m.clone()),
                Payload::Request(r) => Payload::Request(r.clone()),
                Payload::Reply(r) => Payload::Reply(r.clone()),
            };
            self.queue.push(Envelope { at, to, payload });
        }
    }

    /// Feeds one input to replica `i` and routes its outputs.
    pub fn deliver(&mut self, i: usize, input: Input) -> Vec<Output> {
        if self.stopped.contains(&i) {
            return Vec::new();
        }
        let outputs = self.replicas[i].handle(input);
        for o in &outputs {
            match o {
                Output::Send { to, msg } => self.send_peer(i, *to as usize, msg.clone()),
                Output::Broadcast(msg) => {
                    for j in 0..self.n() {
                        if j != i {
                            self.send_peer(i, j, msg.clone());
                        }
                    }
                }
                Output::Reply { client, reply } => {
                    if self.cut(Some(i), None) {
                        continue;
                    }
                    let signed = Signed::sign(reply.clone(), &self.keys[i]);
                    self.post(*client as usize, Payload::Reply(signed));
                }
                Output::Executed(e) => self.executed[i].push((e.seq, e.digest)),
                Output::Rejected { kind, .. } => {
                    self.rejected += 1;
                    *self.rejected_kinds.entry(kind.to_string()).or_default() += 1;
                }
                Output::Persist(Record::Stable(s)) => {
                    let disk = &mut self.disks[i];
                    let keys: Vec<_> = disk.1.iter().map(|r| (r.seq(), r.kind())).collect();
                    let mut keep = kept_at_compaction(&keys, s.seq).into_iter();
                    disk.1.retain(|_| keep.next().unwrap_or(true));
                    disk.0 = Some((**s).clone());
                }
                Output::Persist(r) => self.disks[i].1.push(r.clone()),
                Output::SetTimer { .. } => {}
            }
        }
        outputs
    }

    /// Routes a peer message through the partition and the Byzantine rule.
    fn send_peer(&mut self, from: usize, to: usize, msg: PeerMessage) {
        if self.cut(Some(from), Some(to)) || self.stopped.contains(&to) {
            return;
        }
        if let Some(filter) = &mut self.link_filter {
            if !filter(from, to, &msg) {
                return;
            }
        }
        let msg = match &mut self.byzantine {
            Some((b, rule)) if *b == from => match rule(to, msg, &self.keys[from]) {
                Some(m) => m,
                None => return,
            },
            _ => msg,
        };
        self.post(to, Payload::Peer(msg));
    }

    /// Pauses replica `i` (SIGSTOP, or a crash before `crash_and_recover`).
    pub fn stop(&mut self, i: usize) {
        self.stopped.insert(i);
        self.queue.retain(|e| {
            !(e.to == i && matches!(e.payload, Payload::Peer(_) | Payload::Request(_)))
        });
    }

    /// Resumes a paused replica with its memory intact (SIGCONT).
    pub fn resume(&mut self, i: usize) {
        self.stopped.remove(&i);
    }

    /// Cuts replica `i` off from everyone else.
    pub fn isolate(&mut self, i: usize) {
        self.isolated.insert(i);
    }

    /// Heals every partition.
    pub fn heal(&mut self) {
        self.isolated.clear();
    }

    /// Runs until `cond` holds or `limit_ms` passed; returns whether it held.
    pub fn run_until(&mut self, limit_ms: u64, mut cond: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit_ms;
        while self.now < end {
            if cond(self) {
                return true;
            }
            self.run(1);
        }
        cond(self)
    }

    /// Operations completed by all clients together.
    pub fn completed(&self) -> usize {
        self.clients.iter().map(|c| c.done.len()).sum()
    }

    fn client_step(&mut self, c: usize) {
        let now = self.now;
        let retransmit = self.retransmit_ms;
        let cl = &mut self.clients[c];
        let send_to_all;
        let request = match &cl.current {
            Some((req, sent)) if now >= sent + retransmit => {
                send_to_all = true;
                req.clone()
            }
            Some(_) => return,
            None => {
                if cl.done.len() == cl.ops.len() {
                    return;
                }
                let op = cl.ops[cl.done.len()].clone();
                send_to_all = true;
                cl.proto.start(op, now * 1000)
            }
        };
        cl.current = Some((request.clone(), now));
        if send_to_all {
            for i in 0..self.n() {
                let passes = match &mut self.request_filter {
                    Some(filter) => filter(i, &request),
                    None => true,
                };
                if passes && !self.cut(None, Some(i)) && !self.stopped.contains(&i) {
                    self.post(i, Payload::Request(request.clone()));
                }
            }
        }
    }

    /// `kill -9` of replica `i` and restart: everything not persisted is lost, and
    /// messages in flight to it are dropped.
    pub fn crash_and_recover(&mut self, i: usize) {
        self.stopped.remove(&i);
        self.queue.retain(|e| {
            !(e.to == i && matches!(e.payload, Payload::Peer(_) | Payload::Request(_)))
        });
        let (snapshot, records) = self.disks[i].clone();
        let n = self.n();
        self.replicas[i] = Replica::recover(
            i as u32,
            n,
            self.params.clone(),
            self.keys[i].clone(),
            snapshot,
            records,
        );
        // The executed history is kept on disk too (history.jsonl): truncate ours to
        // what the recovered replica has executed, which must be a prefix.
        let last = self.replicas[i].last_executed() as usize;
        assert!(
            self.executed[i].len() >= last,
            "recovered past what was executed"
        );
        self.executed[i].truncate(last);
    }

    /// Verifies a peer message with the test's own verifier.
    pub fn verify(&mut self, m: PeerMessage) -> Option<Verified<PeerMessage>> {
        let bytes = serde_json::to_vec(&m).unwrap();
        let m: PeerMessage = serde_json::from_slice(&bytes).expect("peer messages round-trip");
        self.verifier.verify_peer(m).ok()
    }

    /// Verifies a peer message as replica `to` does (memoized per receiver and content).
    pub fn verify_at(&mut self, to: usize, m: PeerMessage) -> Option<Verified<PeerMessage>> {
        let bytes = serde_json::to_vec(&m).unwrap();
        let key = (to, Digest::of(&bytes));
        if let Some(v) = self.verified.get(&key) {
            return v.clone();
        }
        // What the replica gets is what came over the wire.
        let m: PeerMessage = serde_json::from_slice(&bytes).expect("peer messages round-trip");
        let v = self.verifiers[to].verify_peer(m).ok();
        self.verified.insert(key, v.clone());
        v
    }

    /// Delivers a client request to replica `to` now, verified by its verifier.
    pub fn request_to(&mut self, to: usize, r: Signed<Request>) -> Vec<Output> {
        match self.verifiers[to].verified_request(r) {
            Ok(v) => self.deliver(to, Input::Request(v)),
            Err(_) => Vec::new(),
        }
    }

    /// Delivers a peer message to replica `to` now, verified by its verifier; `None`
    /// if its verifier refused it.
    pub fn peer_to(&mut self, to: usize, m: PeerMessage) -> Option<Vec<Output>> {
        let v = self.verify_at(to, m)?;
        Some(self.deliver(to, Input::Peer(v)))
    }

    /// Runs until every client finished (or `limit_ms` passed); returns true if finished.
    pub fn run(&mut self, limit_ms: u64) -> bool {
        let end = self.now + limit_ms;
        while self.now < end {
            for c in 0..self.clients.len() {
                self.client_step(c);
            }
            // Deliver everything due, in random order.
            let mut due: Vec<Envelope> = Vec::new();
            let mut i = 0;
            while i < self.queue.len() {
                if self.queue[i].at <= self.now {
                    due.push(self.queue.swap_remove(i));
                } else {
                    i += 1;
                }
            }
            while !due.is_empty() {
                let k = self.rng.gen_range(0..due.len());
                let env = due.swap_remove(k);
                match env.payload {
                    Payload::Peer(_) | Payload::Request(_) if self.stopped.contains(&env.to) => {}
                    Payload::Peer(m) => {
                        *self.delivered.entry(m.kind()).or_default() += 1;
                        match self.verify_at(env.to, m) {
                            Some(v) => {
                                self.deliver(env.to, Input::Peer(v));
                            }
                            None => self.rejected += 1,
                        }
                    }
                    Payload::Request(r) => {
                        let v = self.verifiers[env.to].verified_request(r).unwrap();
                        self.deliver(env.to, Input::Request(v));
                    }
                    Payload::Reply(r) => {
                        let cl = &mut self.clients[env.to];
                        if let Some(result) = cl.proto.on_reply(&r) {
                            if cl
                                .current
                                .as_ref()
                                .is_some_and(|(q, _)| q.body.timestamp == r.body.timestamp)
                            {
                                cl.current = None;
                                cl.done.push(result);
                            }
                        }
                    }
                }
            }
            if self.now % 10 == 0 {
                for i in 0..self.n() {
                    let now = self.now;
                    self.deliver(i, Input::Tick { now_ms: now });
                }
            }
            self.now += 1;
            if self.clients.iter().all(|c| c.done.len() == c.ops.len()) {
                return true;
            }
        }
        false
    }

    /// Lets the replicas exchange retransmissions without client load.
    pub fn settle(&mut self, ms: u64) {
        for c in &mut self.clients {
            c.ops.truncate(c.done.len());
        }
        let end = self.now + ms;
        while self.now < end {
            self.run(1);
        }
    }

    pub fn assert_agreement(&self, seed: u64) {
        let all: Vec<usize> = (0..self.executed.len()).collect();
        self.assert_agreement_among(&all, seed);
    }

    /// Agreement among `replicas` (the correct ones): no two executed different batches
    /// at one sequence number, and none skipped a sequence number.
    pub fn assert_agreement_among(&self, replicas: &[usize], seed: u64) {
        let longest = replicas
            .iter()
            .map(|&i| &self.executed[i])
            .max_by_key(|e| e.len())
            .unwrap();
        for &i in replicas {
            let e = &self.executed[i];
            assert_eq!(
                &longest[..e.len()],
                &e[..],
                "replica {i} diverged; reproduce with PBFT_SIM_SEED={seed}"
            );
            let seqs: Vec<u64> = e.iter().map(|(s, _)| *s).collect();
            let expect: Vec<u64> = (1..=e.len() as u64).collect();
            assert_eq!(
                seqs, expect,
                "replica {i} skipped a sequence number; PBFT_SIM_SEED={seed}"
            );
        }
    }

    pub fn states_by_replica(&self) -> BTreeMap<usize, (u64, String)> {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, r)| (i, (r.last_executed(), r.status().state_digest)))
            .collect()
    }
}

impl Sim {
    /// Gives every client `ops_per_client` operations: its own appends to a shared list
    /// (so a duplicate or lost execution shows) alternating with writes of its own key.
    pub fn load_appends_and_writes(&mut self, ops_per_client: usize) {
        for (c, client) in self.clients.iter_mut().enumerate() {
            client.ops = (0..ops_per_client)
                .map(|k| {
                    if k % 2 == 0 {
                        Operation::Append {
                            key: "list".into(),
                            value: serde_json::json!(c * 1000 + k),
                        }
                    } else {
                        Operation::Write {
                            key: format!("k{c}"),
                            value: serde_json::json!(k),
                        }
                    }
                })
                .collect();
        }
    }
}

/// Small protocol parameters that make checkpoints, watermarks and garbage collection
/// happen within a few dozen requests; `view_change_timeout_ms` is the base timeout T.
pub fn small_params(view_change_timeout_ms: u64) -> ProtocolConfig {
    ProtocolConfig {
        batch_size: 4,
        batch_delay_ms: 2,
        pipeline_depth: 2,
        checkpoint_interval: 8,
        log_window: 16,
        retransmit_ms: 100,
        view_change_timeout_ms,
        bugs: replica::bugs::Bugs::NONE,
    }
}
