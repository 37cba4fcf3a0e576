//! The simulation: one thread, virtual time, an event queue. Replicas are the real
//! `replica::core` engines, clients the real `ClientProtocol`; every message is encoded
//! to the bytes the proxy would see, crosses the simulated network (partitions, packet
//! faults, Byzantine mutation by the proxy's own code) and is decoded and verified by
//! its receiver. Nothing reads the wall clock or the OS's randomness, and every
//! collection that is iterated is ordered, so a seed and a build fix the whole run.

use crate::client::SimClient;
use crate::config::SimConfig;
use crate::coverage::{CoverageRecorder, Point};
use crate::error::Result;
use crate::history::History;
use crate::network::Network;
use crate::node::{Liveness, Node};
use crate::queue::EventQueue;
use crate::report::SimReport;
use crate::trace::{client_code, replica_code, Trace, NEMESIS};
use bytes::Bytes;
use checker::oracles::ExecutedRequest;
use ed25519_dalek::SigningKey;
use nemesis::{ByzantineRule, Link, Mutate, Mutator, Rule};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica::crypto::{Digest, Signed};
use replica::messages::{PeerMessage, Request};
use replica::verifier::{Verified, Verifier};
use replica::{ClusterConfig, Input, Output};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use workloads::Generator;

/// The ChaCha streams of a simulation's seed (the workload's generators use the
/// worker-slot streams `0..clients`, as in a real run).
pub mod streams {
    /// Replica and client key pairs.
    pub const KEYS: u64 = nemesis::streams::KEYS;
    /// Network latency and packet-fault verdicts.
    pub const NETWORK: u64 = nemesis::streams::PROXY;
    /// Fault targets (which node a partition or kill hits).
    pub const TARGETS: u64 = nemesis::streams::TARGETS;
    /// Client think times: stream `THINK + slot`.
    pub const THINK: u64 = 1 << 46;
}

/// Verified peer messages kept (by content digest) before the memo starts over.
const MEMO_LIMIT: usize = 200_000;

/// One event.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A peer message arrives at `to`.
    Peer { from: usize, to: usize, body: Bytes },
    /// A client request arrives at `to`.
    Request {
        client: usize,
        to: usize,
        body: Bytes,
    },
    /// A replica's reply arrives at a client.
    Reply {
        from: usize,
        client: usize,
        body: Bytes,
    },
    /// A replica's clock ticks.
    Tick { replica: usize },
    /// A client may start its next operation.
    ClientNext { client: usize },
    /// A client re-broadcasts its pending request (if still pending).
    ClientRetransmit { client: usize, timestamp: u64 },
    /// A client gives up on its pending request (if still pending).
    ClientTimeout { client: usize, timestamp: u64 },
    /// Fault window `w` starts.
    FaultStart(usize),
    /// Fault window `w` is healed.
    FaultStop(usize),
    /// A replica is killed (rolling restarts).
    Kill(usize),
    /// A killed replica restarts.
    Restart(usize),
    /// Clock fault window `w` flips its strobe's offset on `nodes`; `on`: to the delta.
    Strobe {
        w: usize,
        nodes: Vec<usize>,
        delta_ms: i64,
        period_ms: u64,
        on: bool,
    },
    /// The workload phase ends: everything is healed.
    EndWorkload,
    /// The final reads start.
    FinalReads,
}

/// The phase of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Clients invoke the workload's operations.
    Workload,
    /// Healed; clients finish what they started.
    Recovery,
    /// The final reads.
    Final,
}

/// A running simulation.
pub struct Simulation {
    pub(crate) config: SimConfig,
    pub(crate) now: u64,
    pub(crate) queue: EventQueue<Event>,
    pub(crate) nodes: Vec<Node<Event>>,
    pub(crate) clients: Vec<SimClient>,
    pub(crate) network: Network,
    pub(crate) targets: ChaCha8Rng,
    pub(crate) cluster: ClusterConfig,
    /// One verifier for every receiver: verification is a pure function of the bytes
    /// and the cluster's keys, so a request verified at one replica is not verified
    /// again at the next (the replicas' own caches do this within one process).
    pub(crate) verifier: Verifier,
    pub(crate) memo: BTreeMap<Digest, Option<Verified<PeerMessage>>>,
    pub(crate) history: History,
    pub(crate) trace: Trace,
    /// The Byzantine replicas in force, as the rule the proxy would hold.
    pub(crate) byzantine: Option<ByzantineRule>,
    /// Replicas whose messages a Byzantine mutator changed at some point.
    pub(crate) byzantine_acted: BTreeSet<usize>,
    pub(crate) active: BTreeMap<usize, crate::faults::Applied>,
    pub(crate) skipped: Vec<String>,
    pub(crate) invoked: BTreeSet<ExecutedRequest>,
    pub(crate) phase: Phase,
    pub(crate) final_reads_from: Option<u64>,
    pub(crate) rejected: u64,
    pub(crate) undecodable: u64,
    pub(crate) coverage: CoverageRecorder,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("seed", &self.config.seed)
            .field("now_ns", &self.now)
            .field("events", &self.trace.events())
            .finish()
    }
}

/// Milliseconds to nanoseconds.
pub(crate) fn ms(ms: u64) -> u64 {
    ms * 1_000_000
}

impl Simulation {
    /// Sets up the cluster, the clients and the schedule of `config`.
    pub fn new(config: SimConfig) -> Result<Simulation> {
        config.validate()?;
        let seed = config.seed;
        let n = config.n();
        let stream = |s: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(s);
            rng
        };
        let mut keys_rng = stream(streams::KEYS);
        let keys: Vec<SigningKey> = (0..n)
            .map(|_| SigningKey::generate(&mut keys_rng))
            .collect();
        let client_keys: Vec<(u64, SigningKey)> = (0..config.clients as u64)
            .map(|c| (c, SigningKey::generate(&mut keys_rng)))
            .collect();
        let listen: Vec<String> = (0..n).map(|i| format!("sim:{i}")).collect();
        let cluster = ClusterConfig::local(config.f, &keys, &listen, &client_keys);
        let verifier = Verifier::new(&cluster)?;
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Node::new(i, n, config.params.clone(), k.clone()))
            .collect();
        let mut clients = Vec::with_capacity(config.clients);
        for (slot, (_, key)) in client_keys.iter().enumerate() {
            let generator =
                Generator::new(&config.workload, seed, slot as u64, config.clients as u64)?;
            clients.push(SimClient::new(
                &cluster,
                slot,
                config.clients,
                key.clone(),
                generator,
                stream(streams::THINK + slot as u64),
            )?);
        }
        let network = Network::new(stream(streams::NETWORK), config.latency_us);
        let mut sim = Simulation {
            now: 0,
            queue: EventQueue::default(),
            nodes,
            clients,
            network,
            targets: stream(streams::TARGETS),
            cluster,
            verifier,
            memo: BTreeMap::new(),
            history: History::default(),
            trace: Trace::default(),
            byzantine: None,
            byzantine_acted: BTreeSet::new(),
            active: BTreeMap::new(),
            skipped: Vec::new(),
            invoked: BTreeSet::new(),
            phase: Phase::Workload,
            final_reads_from: None,
            rejected: 0,
            undecodable: 0,
            coverage: CoverageRecorder::default(),
            config,
        };
        sim.schedule_start();
        Ok(sim)
    }

    /// The simulated cluster's configuration (keys of every replica and client).
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    fn schedule_start(&mut self) {
        let c = &self.config;
        let (limit, tick) = (ms(c.time_limit_ms), ms(c.tick_ms));
        for i in 0..c.n() {
            self.queue.push(tick, Event::Tick { replica: i });
        }
        let mean = self.mean_think_ns();
        for slot in 0..self.clients.len() {
            let at = self.clients[slot].think_ns(mean);
            self.queue.push(at, Event::ClientNext { client: slot });
        }
        for (w, window) in self.config.schedule.windows.iter().enumerate() {
            self.queue.push(ms(window.start_ms), Event::FaultStart(w));
            if window.stop_ms < self.config.time_limit_ms {
                self.queue.push(ms(window.stop_ms), Event::FaultStop(w));
            }
        }
        self.queue.push(limit, Event::EndWorkload);
        self.queue
            .push(limit + ms(self.config.recovery_ms), Event::FinalReads);
    }

    pub(crate) fn mean_think_ns(&self) -> u64 {
        (self.config.clients as f64 / self.config.rate * 1e9) as u64
    }

    fn end_ns(&self) -> u64 {
        let c = &self.config;
        ms(c.time_limit_ms + c.recovery_ms + c.final_reads_ms)
    }

    /// Runs to the end and judges the run: the workload, the heal and recovery, the
    /// final reads, then at most `settle_ms` for the replicas to converge.
    pub fn run(mut self) -> SimReport {
        let end = self.end_ns();
        self.run_until(end, Simulation::finished);
        let settle_from = self.now;
        let bound_ms = self.settle_bound_ms();
        self.run_until(settle_from + ms(bound_ms), Simulation::converged);
        let waited_ns = self.now - settle_from;
        self.report(waited_ns, bound_ms)
    }

    /// The convergence oracle's bound: a real run's (`checker::oracles::settle_bound`,
    /// with the quorum's view-change timeout in force now), or `settle_ms` if longer.
    fn settle_bound_ms(&self) -> u64 {
        let timeouts: Vec<Option<u64>> = self
            .nodes
            .iter()
            .map(|n| Some(n.engine.view_change_timeout_ms()))
            .collect();
        let t = checker::oracles::quorum_timeout(&timeouts, self.config.f)
            .unwrap_or(self.config.params.view_change_timeout_ms);
        let derived = checker::oracles::settle_bound(self.config.f, t).as_millis() as u64;
        derived.max(self.config.settle_ms)
    }

    /// Handles events due up to `end` (ns), until `done` holds.
    fn run_until(&mut self, end: u64, done: fn(&Simulation) -> bool) {
        while !done(self) {
            match self.queue.peek_time() {
                Some(at) if at <= end => {}
                _ => break,
            }
            let Some((at, event)) = self.queue.pop() else {
                break;
            };
            self.now = at;
            self.handle(event);
        }
    }

    /// Every replica runs and has executed as far as any other.
    fn converged(&self) -> bool {
        let last: BTreeSet<u64> = self
            .nodes
            .iter()
            .map(|n| n.engine.last_executed())
            .collect();
        last.len() == 1 && self.nodes.iter().all(|n| n.liveness == Liveness::Up)
    }

    /// The final reads are done and no client waits for anything.
    fn finished(&self) -> bool {
        self.phase == Phase::Final
            && self
                .clients
                .iter()
                .all(|c| c.pending.is_none() && c.final_ops.is_empty())
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Peer { from, to, body } => {
                if let Some(e) = self.hold_if_paused(to, Event::Peer { from, to, body }) {
                    let Event::Peer { from, to, body } = e else {
                        return;
                    };
                    self.deliver_peer(from, to, &body);
                }
            }
            Event::Request { client, to, body } => {
                if let Some(e) = self.hold_if_paused(to, Event::Request { client, to, body }) {
                    let Event::Request { client, to, body } = e else {
                        return;
                    };
                    self.deliver_request(client, to, &body);
                }
            }
            Event::Reply { from, client, body } => self.deliver_reply(from, client, &body),
            Event::Tick { replica } => {
                self.queue
                    .push(self.now + ms(self.config.tick_ms), Event::Tick { replica });
                if self.nodes[replica].liveness == Liveness::Up {
                    let now_ms = self.nodes[replica].clock.now_ms(self.now);
                    self.step(replica, Input::Tick { now_ms });
                }
            }
            Event::ClientNext { client } => self.client_next(client),
            Event::ClientRetransmit { client, timestamp } => {
                let body = match &self.clients[client].pending {
                    Some(p) if p.timestamp == timestamp => p.body.clone(),
                    _ => return,
                };
                for to in 0..self.nodes.len() {
                    self.send_request(client, to, &body);
                }
                self.queue.push(
                    self.now + ms(self.config.client_retransmit_ms),
                    Event::ClientRetransmit { client, timestamp },
                );
            }
            Event::ClientTimeout { client, timestamp } => {
                let process = self.clients[client].process;
                let after = Duration::from_millis(self.config.op_timeout_ms);
                if let Some((inv, c)) = self.clients[client].time_out(timestamp, after) {
                    self.trace
                        .record(self.now, client_code(client), NEMESIS, "timeout", &[]);
                    self.history.complete(process, &inv, c, self.now);
                    self.after_completion(client);
                }
            }
            Event::FaultStart(w) => self.start_fault(w),
            Event::FaultStop(w) => self.stop_fault(w),
            Event::Kill(i) => self.kill(i),
            Event::Restart(i) => self.restart(i),
            Event::Strobe {
                w,
                nodes,
                delta_ms,
                period_ms,
                on,
            } => {
                if matches!(self.active.get(&w), Some(crate::faults::Applied::Clock(_))) {
                    self.strobe(w, nodes, delta_ms, period_ms, on);
                }
            }
            Event::EndWorkload => {
                self.phase = Phase::Recovery;
                self.heal_all();
            }
            Event::FinalReads => {
                self.phase = Phase::Final;
                self.final_reads_from = Some(self.now);
                let reads = self.config.workload.final_reads();
                let slots = self.clients.len();
                for (k, inv) in reads.into_iter().enumerate() {
                    self.clients[k % slots].final_ops.push_back(inv);
                }
                for c in 0..slots {
                    if self.clients[c].pending.is_none() {
                        self.queue.push(self.now, Event::ClientNext { client: c });
                    }
                }
            }
        }
    }

    /// A paused replica keeps what arrives for later; a killed one loses it. Returns
    /// the event if the replica runs.
    fn hold_if_paused(&mut self, to: usize, event: Event) -> Option<Event> {
        let node = &mut self.nodes[to];
        match node.liveness {
            Liveness::Up => Some(event),
            Liveness::Paused => {
                node.inbox.push_back(event);
                None
            }
            Liveness::Down => None,
        }
    }

    /// Verifies a peer message as its receiver would, memoized by content (the
    /// verification is a pure function of the bytes and the cluster's keys).
    fn verify(&mut self, body: &[u8]) -> Option<Verified<PeerMessage>> {
        let key = Digest::of(body);
        if let Some(v) = self.memo.get(&key) {
            return v.clone();
        }
        let v = serde_json::from_slice::<PeerMessage>(body)
            .ok()
            .and_then(|m| self.verifier.verify_peer(m).ok());
        if self.memo.len() >= MEMO_LIMIT {
            self.memo.clear();
        }
        self.memo.insert(key, v.clone());
        v
    }

    fn deliver_peer(&mut self, from: usize, to: usize, body: &Bytes) {
        let verified = self.verify(body);
        let kind = verified.as_ref().map_or("refused", |v| v.get().kind());
        self.trace
            .record(self.now, replica_code(from), replica_code(to), kind, body);
        match verified {
            Some(v) => {
                self.coverage.on_delivered(v.get());
                self.step(to, Input::Peer(v));
            }
            None => {
                self.undecodable += 1;
                self.coverage.reach(Point::Undecodable);
            }
        }
    }

    pub(crate) fn deliver_request(&mut self, client: usize, to: usize, body: &Bytes) {
        self.trace.record(
            self.now,
            client_code(client),
            replica_code(to),
            "request",
            body,
        );
        let link = Link::client(to);
        if let Some(rule) = &self.byzantine {
            // A censored client's request never reaches a faulty replica; a lying one
            // acknowledges a write it will never apply.
            match rule.mutate(&nemesis::Message::request(link, body), true, body) {
                Some(Mutate::Answer(ack)) => {
                    self.byzantine_acted.insert(to);
                    self.post_reply(to, client, ack);
                    return;
                }
                Some(_) => return,
                None => {}
            }
        }
        let Ok(request) = serde_json::from_slice::<Signed<Request>>(body) else {
            self.undecodable += 1;
            return;
        };
        let id = (request.body.client, request.body.timestamp);
        match self.verifier.verified_request(request) {
            Ok(v) => {
                self.nodes[to].waiters.insert(id);
                self.step(to, Input::Request(v));
            }
            Err(_) => self.undecodable += 1,
        }
    }

    /// Feeds one input to replica `i` and carries out its outputs.
    pub(crate) fn step(&mut self, i: usize, input: Input) {
        let outputs = self.nodes[i].engine.handle(input);
        for o in outputs {
            match o {
                Output::Send { to, msg } => {
                    self.coverage.on_sent(i, &msg);
                    let body = encode(&msg);
                    self.send_peer(i, to as usize, body);
                }
                Output::Broadcast(msg) => {
                    self.coverage.on_sent(i, &msg);
                    let body = encode(&msg);
                    for j in 0..self.nodes.len() {
                        if j != i {
                            self.send_peer(i, j, body.clone());
                        }
                    }
                }
                Output::Reply { client, reply } => {
                    if !self.nodes[i].waiters.remove(&(client, reply.timestamp)) {
                        continue;
                    }
                    let Some(slot) = self.clients.iter().position(|c| c.id() == client) else {
                        continue;
                    };
                    let signed = Signed::sign(reply, &self.nodes[i].key);
                    let mut body = Bytes::from(serde_json::to_vec(&signed).unwrap_or_default());
                    if let Some(rule) = &self.byzantine {
                        if let Some(lied) = rule.reply(Link::client(i), &body) {
                            self.byzantine_acted.insert(i);
                            body = lied;
                        }
                    }
                    self.post_reply(i, slot, body);
                }
                Output::Persist(r) => {
                    self.coverage.on_persisted(&r, self.nodes[i].kills > 0);
                    self.nodes[i].disk.write(&r);
                }
                Output::Executed(e) => {
                    self.coverage.on_executed(&e, self.nodes[i].engine.view());
                    self.nodes[i].executed.push(e);
                }
                Output::SetTimer { .. } => {}
                Output::Rejected { kind, why, .. } => {
                    self.rejected += 1;
                    self.coverage.reach(Point::Rejected {
                        kind,
                        why: why.name(),
                    });
                }
            }
        }
    }

    /// A reply travels back on the client's connection: lost if the partition in
    /// force severs the clients from the replica.
    pub(crate) fn post_reply(&mut self, from: usize, client: usize, body: Bytes) {
        if self.network.is_cut(Link::client(from)) {
            return;
        }
        let at = self.now + self.network.latency();
        self.queue.push(at, Event::Reply { from, client, body });
    }

    /// Sends a peer message through the Byzantine rule's mutation stage (as the
    /// proxy's rule table does) and the network.
    fn send_peer(&mut self, from: usize, to: usize, body: Bytes) {
        let link = Link::peer(from, to);
        let mut copies = vec![(0u64, body)];
        let mut tag = None;
        if let Some(rule) = &self.byzantine {
            let msg = nemesis::Message::peer(link, &copies[0].1);
            match rule.mutate(&msg, false, &copies[0].1) {
                None | Some(Mutate::Answer(_)) => {}
                Some(Mutate::Withhold) => {
                    // Withheld by a faulty sender, or a relay a censoring receiver
                    // ignores.
                    if rule.byzantine().faulty().contains(&from) {
                        self.byzantine_acted.insert(from);
                        self.coverage
                            .reach(Point::Mutated(Mutator::Withhold.name()));
                    }
                    self.trace.record(
                        self.now,
                        replica_code(from),
                        replica_code(to),
                        "withheld",
                        &copies[0].1,
                    );
                    return;
                }
                Some(Mutate::Send {
                    bodies,
                    lag,
                    tag: t,
                }) => {
                    if let Some(name) = t {
                        self.byzantine_acted.insert(from);
                        self.coverage.reach(Point::Mutated(name));
                    }
                    tag = t;
                    let lag = lag.as_nanos() as u64;
                    copies = bodies
                        .into_iter()
                        .enumerate()
                        .map(|(k, b)| (k as u64 * lag, b))
                        .collect();
                }
            }
        }
        for (lag, b) in copies {
            let fates = self.network.fate(link, false, &b);
            if let (Some(rule), Some(tag)) = (&self.byzantine, tag) {
                rule.fate(tag, !fates.is_empty());
            }
            for (delay, copy) in fates {
                self.queue.push(
                    self.now + lag + delay,
                    Event::Peer {
                        from,
                        to,
                        body: copy,
                    },
                );
            }
        }
    }

    /// The primary of the newest view a running replica is in.
    pub(crate) fn primary(&self) -> usize {
        let view = self
            .nodes
            .iter()
            .filter(|n| n.liveness != Liveness::Down)
            .map(|n| n.engine.view())
            .max()
            .unwrap_or(0);
        (view % self.nodes.len() as u64) as usize
    }

    /// Resumes a paused replica: what waited in its inbox arrives now, in order.
    pub(crate) fn resume(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        if node.liveness != Liveness::Paused {
            return;
        }
        node.liveness = Liveness::Up;
        let waiting: Vec<Event> = node.inbox.drain(..).collect();
        for e in waiting {
            self.queue.push(self.now, e);
        }
    }
}

fn encode(msg: &PeerMessage) -> Bytes {
    Bytes::from(serde_json::to_vec(msg).unwrap_or_default())
}
