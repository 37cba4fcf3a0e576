//! The step tests' network: four sans-IO cores (n = 4, f = 1) wired by a list of
//! in-flight messages, a simulated clock that only the test advances, and one seeded
//! RNG that picks which in-flight message is delivered next (a seed is a reordering).
//! No sockets, no threads, no real time.
//!
//! Every message crosses the "wire" as JSON and is checked by the receiver's own
//! [`Verifier`], as in the real shell. Faults come in pairs: `hold` / `release` (a
//! rule that keeps matching messages out of the network until released) and
//! `pause` / `resume` (a replica that gets no messages and no ticks meanwhile); and
//! `restart`, a crash after which a replica has only what it persisted.
//!
//! Invariant checked on every step: a replica asks for a timer only after its own
//! clock (a deadline already passed makes the shell tick at once, in a loop).
//!
//! `PBFT_STEP_SEED=<n>` reruns a test with seed `n`; a failing test prints its seed.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::config::{ClusterConfig, ProtocolConfig};
use replica::core::record::{LogEntry, Record};
use replica::core::{Input, Output, Replica, ReplicaStatus};
use replica::crypto::{Digest, Signed};
use replica::messages::{PeerMessage, Reply, Request, Seq};
use replica::state_machine::{ClientId, Operation};
use replica::verifier::Verifier;

use super::actions::describe;

/// Replicas in every step test (f = 1).
pub(crate) const N: usize = 4;
/// Clients known to the cluster (ids `0..CLIENTS`).
const CLIENTS: u64 = 4;
/// Interval of the ticks [`Net::run_for`] gives every replica (ms).
pub(crate) const TICK_MS: u64 = 10;
/// Deliveries after which [`Net::deliver_all`] declares a message storm.
const MAX_DELIVERIES: usize = 100_000;
/// The seed of a test that does not choose one.
const DEFAULT_SEED: u64 = 7;

/// Base view-change timeout T of [`params`] (ms).
pub(crate) const T_MS: u64 = 1_000;

/// Protocol parameters of the step tests: batches of up to 4 requests sent at once
/// (no batch delay) one at a time (pipeline depth 1), checkpoints every K = 4 and a
/// window of L = 8, so that checkpoints and watermarks are crossed in a few requests.
pub(crate) fn params() -> ProtocolConfig {
    ProtocolConfig {
        batch_size: 4,
        batch_delay_ms: 0,
        pipeline_depth: 1,
        checkpoint_interval: 4,
        log_window: 8,
        retransmit_ms: 100,
        view_change_timeout_ms: T_MS,
        bugs: replica::bugs::Bugs::NONE,
    }
}

/// The seed from `PBFT_STEP_SEED`, or `default`.
pub(crate) fn seed_from_env(default: u64) -> u64 {
    std::env::var("PBFT_STEP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A peer message on its way from one replica to another.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    /// Sender.
    pub(crate) from: usize,
    /// Receiver.
    pub(crate) to: usize,
    /// The message.
    pub(crate) msg: PeerMessage,
}

/// A network rule: true keeps the message out of the network (held).
type Rule = Box<dyn FnMut(&Envelope) -> bool>;

/// Four replicas, the messages between them and what they did.
pub(crate) struct Net {
    /// The seed of the delivery order.
    pub(crate) seed: u64,
    /// Simulated time (ms) of the next tick.
    pub(crate) now: u64,
    /// The cores under test.
    pub(crate) replicas: Vec<Replica>,
    /// Each replica's signing key (a test plays a Byzantine replica with it).
    pub(crate) keys: Vec<SigningKey>,
    params: ProtocolConfig,
    /// What each replica persisted, in order (its WAL; never compacted here).
    wal: Vec<Vec<Record>>,
    /// The cluster's keys and clients.
    pub(crate) config: ClusterConfig,
    client_keys: BTreeMap<ClientId, SigningKey>,
    /// Each replica's own verifier (its request cache is its own, as in a process).
    verifiers: Vec<Verifier>,
    rng: ChaCha8Rng,
    in_flight: Vec<Envelope>,
    held: Vec<Envelope>,
    hold_rule: Option<Rule>,
    /// Paused replicas: no messages, no ticks.
    down: BTreeSet<usize>,
    /// What each replica executed, in order (its `/log`).
    pub(crate) executed: Vec<Vec<LogEntry>>,
    /// Every reply sent: (replica, reply).
    pub(crate) replies: Vec<(usize, Reply)>,
    /// Every rejection reported: (replica, kind, reason).
    pub(crate) rejections: Vec<(usize, &'static str, String)>,
    /// Each replica's clock: the time of the last tick it was given (ms).
    clocks: Vec<u64>,
    /// Messages a receiver's verifier refused.
    pub(crate) refused: usize,
    /// One line per delivery and per output, for the determinism check.
    pub(crate) trace: Vec<String>,
}

impl Drop for Net {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "step test failed with seed {s}; rerun it with PBFT_STEP_SEED={s}",
                s = self.seed
            );
        }
    }
}

impl Net {
    /// A fresh cluster with [`params`] and the seed of `PBFT_STEP_SEED` (or the default).
    pub(crate) fn new() -> Net {
        Net::with(seed_from_env(DEFAULT_SEED), params())
    }

    /// A fresh cluster with these parameters and seed.
    pub(crate) fn with(seed: u64, params: ProtocolConfig) -> Net {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let keys: Vec<SigningKey> = (0..N).map(|_| SigningKey::generate(&mut rng)).collect();
        let clients: Vec<(ClientId, SigningKey)> = (0..CLIENTS)
            .map(|c| (c, SigningKey::generate(&mut rng)))
            .collect();
        let listen: Vec<String> = (0..N).map(|i| format!("step:{i}")).collect();
        let config = ClusterConfig::local(1, &keys, &listen, &clients);
        let verifiers = (0..N)
            .map(|_| Verifier::new(&config).expect("a valid cluster"))
            .collect();
        let replicas = (0..N)
            .map(|i| Replica::new(i as u32, N, params.clone(), keys[i].clone()))
            .collect();
        Net {
            seed,
            now: 0,
            replicas,
            keys,
            params,
            wal: vec![Vec::new(); N],
            config,
            client_keys: clients.into_iter().collect(),
            verifiers,
            rng,
            in_flight: Vec::new(),
            held: Vec::new(),
            hold_rule: None,
            down: BTreeSet::new(),
            executed: vec![Vec::new(); N],
            replies: Vec::new(),
            rejections: Vec::new(),
            clocks: vec![0; N],
            refused: 0,
            trace: Vec::new(),
        }
    }

    /// A request signed by `client`.
    pub(crate) fn request(
        &self,
        client: ClientId,
        timestamp: u64,
        op: Operation,
    ) -> Signed<Request> {
        let body = Request {
            client,
            timestamp,
            op,
        };
        Signed::sign(body, &self.client_keys[&client])
    }

    /// A client key (to forge or sign requests by hand).
    pub(crate) fn client_key(&self, client: ClientId) -> &SigningKey {
        &self.client_keys[&client]
    }

    /// Feeds one input to replica `i` now and routes what it emits.
    pub(crate) fn handle(&mut self, i: usize, input: Input) -> Vec<Output> {
        assert!(!self.down.contains(&i), "replica {i} is down");
        if let Input::Tick { now_ms } = input {
            self.clocks[i] = self.clocks[i].max(now_ms);
        }
        let out = self.replicas[i].handle(input);
        self.route(i, &out);
        out
    }

    /// A client request arrives at replica `to` (checked by its verifier first).
    pub(crate) fn submit(&mut self, to: usize, r: Signed<Request>) -> Vec<Output> {
        let r = self.verifiers[to]
            .verified_request(r)
            .expect("the test's requests are signed by known clients");
        self.handle(to, Input::Request(r))
    }

    /// A client sends `r` to every replica that is up.
    pub(crate) fn submit_to_all(&mut self, r: &Signed<Request>) {
        for i in 0..N {
            if !self.down.contains(&i) {
                self.submit(i, r.clone());
            }
        }
    }

    /// A peer message from outside the network (e.g. forged by the test) arrives at
    /// `to` over the wire: `Err` if `to`'s verifier refuses it, else the outputs.
    pub(crate) fn inject(&mut self, to: usize, msg: PeerMessage) -> replica::Result<Vec<Output>> {
        let wire = serde_json::to_vec(&msg).expect("peer messages serialize");
        let msg: PeerMessage = serde_json::from_slice(&wire).expect("peer messages round-trip");
        let verified = self.verifiers[to].verify_peer(msg)?;
        Ok(self.handle(to, Input::Peer(verified)))
    }

    fn route(&mut self, from: usize, out: &[Output]) {
        for o in out {
            self.trace
                .push(format!("{} @{}: {}", from, self.now, describe(o)));
            match o {
                Output::Send { to, msg } => self.send(from, *to as usize, msg.clone()),
                Output::Broadcast(msg) => {
                    for to in (0..N).filter(|to| *to != from) {
                        self.send(from, to, msg.clone());
                    }
                }
                Output::Reply { reply, .. } => self.replies.push((from, reply.clone())),
                Output::Executed(e) => self.executed[from].push(e.clone()),
                Output::Rejected { kind, reason, .. } => {
                    self.rejections.push((from, kind, reason.clone()))
                }
                Output::SetTimer { at_ms } => {
                    let clock = self.clocks[from];
                    assert!(
                        *at_ms > clock,
                        "expected replica {from} to ask for a timer after its clock ({clock} ms), \
                         not at {at_ms} ms: the shell ticks at once for a passed deadline"
                    );
                }
                Output::Persist(r) => self.wal[from].push(r.clone()),
            }
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: PeerMessage) {
        if self.down.contains(&to) {
            return;
        }
        let env = Envelope { from, to, msg };
        if self.hold_rule.as_mut().is_some_and(|rule| rule(&env)) {
            self.held.push(env);
        } else {
            self.in_flight.push(env);
        }
    }

    /// Delivers one envelope now (verified by the receiver); its outputs.
    pub(crate) fn deliver(&mut self, env: Envelope) -> Vec<Output> {
        if self.down.contains(&env.to) {
            return Vec::new();
        }
        self.trace.push(format!(
            "{} -> {}: {}",
            env.from,
            env.to,
            super::actions::name(&env.msg)
        ));
        match self.inject(env.to, env.msg) {
            Ok(out) => out,
            Err(_) => {
                self.refused += 1;
                Vec::new()
            }
        }
    }

    /// Delivers one in-flight message chosen by the seeded RNG; false if none.
    pub(crate) fn deliver_one(&mut self) -> bool {
        if self.in_flight.is_empty() {
            return false;
        }
        let k = self.rng.gen_range(0..self.in_flight.len());
        let env = self.in_flight.swap_remove(k);
        self.deliver(env);
        true
    }

    /// Delivers in-flight messages (in seeded random order) until none is left;
    /// returns how many. Panics on a message storm.
    pub(crate) fn deliver_all(&mut self) -> usize {
        let mut count = 0;
        while self.deliver_one() {
            count += 1;
            assert!(
                count < MAX_DELIVERIES,
                "expected the network to go quiet, but {count} messages were delivered"
            );
        }
        count
    }

    /// The seeded RNG, for a test's own choices (which client sends when).
    pub(crate) fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Removes and returns the in-flight messages matching `pred`.
    pub(crate) fn take(&mut self, mut pred: impl FnMut(&Envelope) -> bool) -> Vec<Envelope> {
        let (taken, kept) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|e| pred(e));
        self.in_flight = kept;
        taken
    }

    /// The messages in flight.
    pub(crate) fn in_flight(&self) -> &[Envelope] {
        &self.in_flight
    }

    /// From now on, messages matching `rule` are held back (until [`Net::release`]).
    pub(crate) fn hold(&mut self, rule: impl FnMut(&Envelope) -> bool + 'static) {
        self.hold_rule = Some(Box::new(rule));
    }

    /// Stops holding messages and puts every held one back in flight.
    pub(crate) fn release(&mut self) {
        self.hold_rule = None;
        let held = std::mem::take(&mut self.held);
        self.in_flight.extend(held);
    }

    /// The messages held back.
    pub(crate) fn held(&self) -> &[Envelope] {
        &self.held
    }

    /// Removes and returns the held messages matching `pred` (the rule stays).
    pub(crate) fn take_held(&mut self, mut pred: impl FnMut(&Envelope) -> bool) -> Vec<Envelope> {
        let (taken, kept) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|e| pred(e));
        self.held = kept;
        taken
    }

    /// Replica `i` stops (a crashed or SIGSTOPped process): it gets no messages and
    /// no ticks, and what was on its way to it is lost.
    pub(crate) fn pause(&mut self, i: usize) {
        self.down.insert(i);
        self.in_flight.retain(|e| e.to != i);
        self.held.retain(|e| e.to != i);
    }

    /// Replica `i` is killed and restarted: it keeps only what it persisted (rebuilt by
    /// `Replica::recover` from its whole WAL), and messages on their way to it are lost.
    pub(crate) fn restart(&mut self, i: usize) {
        self.in_flight.retain(|e| e.to != i);
        self.held.retain(|e| e.to != i);
        let (params, key) = (self.params.clone(), self.keys[i].clone());
        let records = self.wal[i].clone();
        self.replicas[i] = Replica::recover(i as u32, N, params, key, None, records);
        let last = self.replicas[i].last_executed() as usize;
        self.executed[i].truncate(last);
    }

    /// Replica `i` runs again with its memory intact (SIGCONT).
    pub(crate) fn resume(&mut self, i: usize) {
        self.down.remove(&i);
    }

    /// Ticks replica `i` at the current time.
    pub(crate) fn tick(&mut self, i: usize) -> Vec<Output> {
        let now_ms = self.now;
        self.handle(i, Input::Tick { now_ms })
    }

    /// Advances the clock by `ms`, ticks every replica that is up, then delivers
    /// everything in flight.
    pub(crate) fn advance(&mut self, ms: u64) {
        self.now += ms;
        for i in 0..N {
            if !self.down.contains(&i) {
                self.tick(i);
            }
        }
        self.deliver_all();
    }

    /// Runs `ms` of simulated time: a tick every [`TICK_MS`], messages in between.
    pub(crate) fn run_for(&mut self, ms: u64) {
        self.deliver_all();
        for _ in 0..ms.div_ceil(TICK_MS) {
            self.advance(TICK_MS);
        }
    }

    /// Runs until `cond` holds, at most `limit_ms`; whether it held.
    pub(crate) fn run_until(&mut self, limit_ms: u64, mut cond: impl FnMut(&Net) -> bool) -> bool {
        self.deliver_all();
        let end = self.now + limit_ms;
        while !cond(self) {
            if self.now >= end {
                return false;
            }
            self.advance(TICK_MS);
        }
        true
    }

    /// Where in the trace replica `i` first emitted the output described as `line`
    /// (see [`describe`]), if it did.
    pub(crate) fn first_output(&self, i: usize, line: &str) -> Option<usize> {
        let prefix = format!("{i} @");
        self.trace
            .iter()
            .position(|l| l.starts_with(&prefix) && l.ends_with(&format!(": {line}")))
    }

    /// Replica `i`'s `/status`.
    pub(crate) fn status(&self, i: usize) -> ReplicaStatus {
        self.replicas[i].status()
    }

    /// What replica `i` executed: (seq, batch digest) in order.
    pub(crate) fn executed_digests(&self, i: usize) -> Vec<(Seq, Digest)> {
        self.executed[i].iter().map(|e| (e.seq, e.digest)).collect()
    }

    /// The replies to `client`'s request `timestamp`, as (replica, reply).
    pub(crate) fn replies_to(&self, client: ClientId, timestamp: u64) -> Vec<(usize, Reply)> {
        self.replies
            .iter()
            .filter(|(_, r)| r.client == client && r.timestamp == timestamp)
            .cloned()
            .collect()
    }

    /// The reasons replica `i` gave for rejecting messages of `kind`.
    pub(crate) fn rejected_by(&self, i: usize, kind: &str) -> Vec<String> {
        self.rejections
            .iter()
            .filter(|(r, k, _)| *r == i && *k == kind)
            .map(|(_, _, why)| why.clone())
            .collect()
    }

    /// Asserts that `replicas` executed the same batches at the same sequence numbers
    /// (the shorter logs a prefix of the longest), without gaps, and that those with
    /// equal progress hold equal states.
    pub(crate) fn assert_agreement(&self, replicas: &[usize]) {
        let longest = replicas
            .iter()
            .map(|&i| self.executed_digests(i))
            .max_by_key(|l| l.len())
            .unwrap_or_default();
        for &i in replicas {
            let log = self.executed_digests(i);
            assert_eq!(
                log[..],
                longest[..log.len()],
                "expected replica {i} to execute the same batches in the same order as the others"
            );
            let seqs: Vec<Seq> = log.iter().map(|(s, _)| *s).collect();
            let gapless: Vec<Seq> = (1..=log.len() as Seq).collect();
            assert_eq!(
                seqs, gapless,
                "expected replica {i} to execute every sequence number once, in order"
            );
        }
        for &i in replicas {
            for &j in replicas {
                if self.replicas[i].last_executed() == self.replicas[j].last_executed() {
                    assert_eq!(
                        self.status(i).state_digest,
                        self.status(j).state_digest,
                        "expected replicas {i} and {j}, at the same seq, to hold the same state"
                    );
                }
            }
        }
    }
}

/// `write key value`.
pub(crate) fn write(key: &str, value: i64) -> Operation {
    Operation::Write {
        key: key.into(),
        value: value.into(),
    }
}

/// `append key value`.
pub(crate) fn append(key: &str, value: i64) -> Operation {
    Operation::Append {
        key: key.into(),
        value: value.into(),
    }
}

/// `read key`.
pub(crate) fn read(key: &str) -> Operation {
    Operation::Read { key: key.into() }
}

/// `cas key from to`.
pub(crate) fn cas(key: &str, from: Option<i64>, to: i64) -> Operation {
    Operation::Cas {
        key: key.into(),
        from: from.map_or(serde_json::Value::Null, Into::into),
        to: to.into(),
    }
}
