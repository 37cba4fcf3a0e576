//! Byzantine replicas on the wire. The replicas designated faulty run the unmodified
//! binary; the proxy holds their signing keys and rewrites and re-signs what they send
//! (and, for `lie`, their replies to clients; for `censor`, what reaches them). Correct
//! replicas' messages are never re-signed: the most a rule can do to them is drop,
//! delay or corrupt bytes, which receivers must reject.
//!
//! Each mutator is a small named value ([`Mutator`]); [`Byzantine`] is the installed set:
//! the faulty replicas, their keys, the mutators, a seeded random stream, and counters
//! of what was mutated per mutator and message type.
//!
//! - [`mutators`]: what each mutator does to one message.
//! - [`resign`]: re-signing a rewritten message with the faulty sender's key.
//! - [`fuzz`]: ByzzFuzz-style small-scope field mutation.

pub mod fuzz;
pub mod mutators;
pub mod resign;
mod rule;

pub use rule::ByzantineRule;

pub use mutators::Mutator;

use crate::link::{Endpoint, Link};
use axum::body::Bytes;
use ed25519_dalek::SigningKey;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use replica::crypto::{Digest, Signed};
use replica::messages::{PeerMessage, Reply, Request};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Earlier messages kept per faulty replica, for `replay` and `shift`.
const RECENT: usize = 32;

/// How far behind the first instance a twin sends (ms, drawn per message from the
/// seed): long enough for the first PRE-PREPARE's round to start on loopback, short
/// enough that the slot is rarely executed before the second arrives.
const TWIN_LAG_MS: std::ops::RangeInclusive<u64> = 2..=8;

/// What a faulty replica's message becomes.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The bodies to send on the link instead of the original (empty: withheld).
    pub send: Vec<Bytes>,
    /// The mutator that acted, if any.
    pub mutator: Option<Mutator>,
    /// How long the proxy waits before each body after the first: a twin is a second
    /// instance of the faulty replica, a few milliseconds behind the first, so its
    /// PRE-PREPARE arrives while the first one's round is under way.
    pub lag: Duration,
}

/// Who is faulty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The replicas whose keys were given, whatever their role.
    Fixed,
    /// Whoever is primary when the message is sent, in a cluster of `n`: the view in
    /// force is the highest one the correct traffic shows (see [`Byzantine::observe`]).
    Primary { n: usize },
}

/// The installed Byzantine behaviour.
pub struct Byzantine {
    /// Signing keys of the replicas that may be faulty.
    faulty: BTreeMap<usize, SigningKey>,
    role: Role,
    mutators: Vec<Mutator>,
    /// The message type `withhold` drops.
    withheld: &'static str,
    /// The client `censor` ignores.
    censored: u64,
    state: Mutex<State>,
}

struct State {
    rng: ChaCha8Rng,
    /// The run seed, for choices that must be the same whoever makes them.
    seed: u64,
    /// Recent bodies each faulty replica sent.
    recent: BTreeMap<usize, VecDeque<Bytes>>,
    /// Digests the equivocating primary sent, per (view, seq, receiver).
    equivocated: BTreeMap<(u64, u64, usize), Digest>,
    /// Where `spurious-view-change` called for a view already: (view, receiver).
    spurious: BTreeSet<(u64, usize)>,
    /// Under the live primary role, the replica that lied to each client's newest
    /// request: (timestamp, replica) per client (see [`State::may_lie`]).
    liars: BTreeMap<u64, (u64, usize)>,
    /// Mutated messages per mutator and message type.
    counts: BTreeMap<(Mutator, &'static str), u64>,
    /// Per mutator, messages it produced that the rules let through, and dropped.
    fates: BTreeMap<Mutator, (u64, u64)>,
    /// The newest view the replicas' own messages show (for [`Role::Primary`]), or the
    /// primary when the behaviour was installed, until a message shows one.
    view: Option<u64>,
    primary_at_start: usize,
}

/// What was mutated, for proxy.json and the history.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MutationCounts {
    /// Per mutator, per message type.
    pub by_mutator: BTreeMap<String, BTreeMap<&'static str, u64>>,
    /// All mutated messages.
    pub total: u64,
    /// Per mutator, the messages it produced (withheld ones aside) that the proxy's
    /// rules let through: delivered to the receiver, possibly late or twice.
    pub delivered: BTreeMap<String, u64>,
    /// Per mutator, the messages it produced that a rule dropped (a partition, a
    /// packet drop).
    pub dropped: BTreeMap<String, u64>,
}

impl Byzantine {
    /// Faulty replicas with their signing keys, the mutators they use, and the seed of
    /// their choices (which message type `withhold` drops, which client `censor`
    /// ignores among `clients`, and each mutation).
    pub fn new(
        faulty: BTreeMap<usize, SigningKey>,
        mutators: Vec<Mutator>,
        clients: u64,
        seed: u64,
    ) -> Byzantine {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(crate::streams::BYZANTINE);
        let withheld = *mutators::WITHHOLDABLE.choose(&mut rng).expect("kinds");
        let censored = rng.gen_range(0..clients.max(1));
        Byzantine {
            faulty,
            role: Role::Fixed,
            mutators,
            withheld,
            censored,
            state: Mutex::new(State {
                rng,
                seed,
                recent: BTreeMap::new(),
                equivocated: BTreeMap::new(),
                spurious: BTreeSet::new(),
                liars: BTreeMap::new(),
                counts: BTreeMap::new(),
                fates: BTreeMap::new(),
                view: None,
                primary_at_start: 0,
            }),
        }
    }

    /// Makes the faulty replica whoever is primary when it sends, not a fixed one:
    /// `keys` (given to [`Byzantine::new`]) must then hold every replica's key of a
    /// cluster of `n`, and `primary` is the primary now (until a message shows a view).
    pub fn as_live_primary(mut self, n: usize, primary: usize) -> Byzantine {
        self.role = Role::Primary { n };
        self.state
            .get_mut()
            .expect("byzantine state poisoned")
            .primary_at_start = primary;
        self
    }

    /// The faulty replicas now (for a live primary, the primary of the newest view
    /// seen).
    pub fn faulty(&self) -> BTreeSet<usize> {
        match self.role {
            Role::Fixed => self.faulty.keys().copied().collect(),
            Role::Primary { n } => {
                let st = self.state.lock().expect("byzantine state poisoned");
                BTreeSet::from([st.primary(n)])
            }
        }
    }

    /// Notes a replica's own message before any mutation: PRE-PREPAREs, PREPAREs,
    /// COMMITs and NEW-VIEWs show the view their sender is in (a VIEW-CHANGE only
    /// asks for one), so the newest of them is the view in force.
    pub fn observe(&self, msg: &crate::message::Message) {
        if !matches!(msg.kind, "pre-prepare" | "prepare" | "commit" | "new-view") {
            return;
        }
        if let (Role::Primary { .. }, Some(v)) = (self.role, msg.view) {
            let mut st = self.state.lock().expect("byzantine state poisoned");
            st.view = Some(st.view.map_or(v, |old| old.max(v)));
        }
    }

    /// Notes what the rules did with a message `mutator` produced.
    pub fn count_fate(&self, mutator: Mutator, delivered: bool) {
        let mut st = self.state.lock().expect("byzantine state poisoned");
        let fate = st.fates.entry(mutator).or_default();
        if delivered {
            fate.0 += 1;
        } else {
            fate.1 += 1;
        }
    }

    /// The key of `replica` if it is faulty now.
    fn faulty_key(&self, replica: usize, st: &State) -> Option<&SigningKey> {
        match self.role {
            Role::Fixed => self.faulty.get(&replica),
            Role::Primary { n } if st.primary(n) == replica => self.faulty.get(&replica),
            Role::Primary { .. } => None,
        }
    }

    /// Whether `replica` is faulty now.
    fn is_faulty(&self, replica: usize) -> bool {
        let st = self.state.lock().expect("byzantine state poisoned");
        self.faulty_key(replica, &st).is_some()
    }

    /// The message type `withhold` drops.
    pub fn withheld(&self) -> &'static str {
        self.withheld
    }

    /// The client `censor` ignores.
    pub fn censored(&self) -> u64 {
        self.censored
    }

    /// The mutators in use.
    pub fn mutators(&self) -> &[Mutator] {
        &self.mutators
    }

    fn has(&self, m: Mutator) -> bool {
        self.mutators.contains(&m)
    }

    /// What replica `link.from` sends on `link` instead of `body`, if it is faulty.
    /// `None`: not a faulty replica's message; send it as it is.
    pub fn on_peer(&self, link: Link, body: &Bytes) -> Option<Outcome> {
        let Endpoint::Replica(from) = link.from else {
            return None;
        };
        let mut guard = self.state.lock().expect("byzantine state poisoned");
        let key = self.faulty_key(from, &guard)?.clone();
        let key = &key;
        let msg: PeerMessage = serde_json::from_slice(body).ok()?;
        let kind = msg.kind();
        // A message another replica signed (a PRE-PREPARE or NEW-VIEW passed on to a
        // replica that lags, a client's relayed request) is not the faulty replica's to
        // re-sign: rewritten, it would carry a signature that does not verify, which
        // tests only the signature check. It goes out as it is.
        if msg.sender() != Some(from as u32) {
            return None;
        }
        let st = &mut *guard;
        let ring = st.recent.entry(from).or_default();
        let earlier = if ring.is_empty() {
            None
        } else {
            Some(ring[ring.len() / 2].clone())
        };
        if ring.len() == RECENT {
            ring.pop_front();
        }
        ring.push_back(body.clone());
        if self.has(Mutator::Withhold) && kind == self.withheld {
            st.count(Mutator::Withhold, kind);
            return Some(Outcome {
                send: Vec::new(),
                mutator: Some(Mutator::Withhold),
                lag: Duration::ZERO,
            });
        }
        let candidates: Vec<Mutator> = self
            .mutators
            .iter()
            .copied()
            .filter(|m| m.applies_to(kind))
            .collect();
        let mutator = *candidates.choose(&mut st.rng)?;
        if !st.rng.gen_bool(mutator.probability()) {
            return None;
        }
        let mut ctx = mutators::Context {
            receiver: link.to,
            key,
            rng: &mut st.rng,
            seed: st.seed,
            alternate: self.has(Mutator::Alternate),
            equivocated: &mut st.equivocated,
            earlier,
            spurious: &mut st.spurious,
        };
        let send = mutator.apply(msg, body, &mut ctx)?;
        let lag = match mutator {
            Mutator::Twin => Duration::from_millis(st.rng.gen_range(TWIN_LAG_MS)),
            _ => Duration::ZERO,
        };
        st.count(mutator, kind);
        Some(Outcome {
            send,
            mutator: Some(mutator),
            lag,
        })
    }

    /// Whether a client request on `link` (clients to a replica) is censored: the
    /// faulty replica ignores the censored client. Relays of that client's requests to
    /// a faulty replica are ignored too.
    pub fn censors(&self, link: Link, is_request: bool, body: &[u8]) -> bool {
        if !self.has(Mutator::Censor) || !self.is_faulty(link.to) {
            return false;
        }
        let client = if is_request {
            serde_json::from_slice::<Signed<Request>>(body)
                .ok()
                .map(|r| r.body.client)
        } else {
            match serde_json::from_slice::<PeerMessage>(body) {
                Ok(PeerMessage::Relay(r)) => Some(r.body.client),
                _ => None,
            }
        };
        let censored = client == Some(self.censored);
        if censored {
            self.state.lock().expect("byzantine state poisoned").count(
                Mutator::Censor,
                if is_request { "request" } else { "relay" },
            );
        }
        censored
    }

    /// The reply a faulty replica's answer to a client becomes under `lie`: the result
    /// changed and re-signed. `None`: leave it.
    pub fn on_reply(&self, link: Link, body: &[u8]) -> Option<Bytes> {
        let reply: Signed<Reply> = serde_json::from_slice(body).ok()?;
        let (client, timestamp) = (reply.body.client, reply.body.timestamp);
        self.lie_to(link, client, timestamp, |key, _| {
            mutators::lie(reply.body, key)
        })
    }

    /// Under `lie`, a faulty replica's answer to a client's write or append, given at
    /// once without applying or passing on the request: an acknowledgement of
    /// something that did not happen. `None`: the request goes to the replica.
    pub fn acknowledges_unapplied(&self, link: Link, body: &[u8]) -> Option<Bytes> {
        let request: Signed<Request> = serde_json::from_slice(body).ok()?;
        let (client, timestamp) = (request.body.client, request.body.timestamp);
        self.lie_to(link, client, timestamp, |key, view| {
            mutators::early_ack(&request.body, link.to, view, key)
        })
    }

    /// The lie `make` tells (given the faulty replica's key and the view in force) to
    /// `client` about its request `timestamp` on `link`, if `lie` is on, the replica is
    /// faulty now and may lie about that request ([`State::may_lie`]).
    fn lie_to(
        &self,
        link: Link,
        client: u64,
        timestamp: u64,
        make: impl FnOnce(&SigningKey, u64) -> Option<Signed<Reply>>,
    ) -> Option<Bytes> {
        if !self.has(Mutator::Lie) {
            return None;
        }
        let mut st = self.state.lock().expect("byzantine state poisoned");
        let key = self.faulty_key(link.to, &st)?.clone();
        let lied = make(&key, st.view.unwrap_or(0))?;
        if !st.may_lie(self.role, client, timestamp, link.to) {
            return None;
        }
        st.count(Mutator::Lie, "reply");
        Some(Bytes::from(serde_json::to_vec(&lied).ok()?))
    }

    /// What was mutated so far.
    pub fn counts(&self) -> MutationCounts {
        let st = self.state.lock().expect("byzantine state poisoned");
        let mut out = MutationCounts::default();
        for ((m, kind), n) in &st.counts {
            out.by_mutator
                .entry(m.name().to_string())
                .or_default()
                .insert(kind, *n);
            out.total += n;
        }
        for (m, (delivered, dropped)) in &st.fates {
            out.delivered.insert(m.name().to_string(), *delivered);
            out.dropped.insert(m.name().to_string(), *dropped);
        }
        out
    }
}

impl State {
    /// The primary now, for a live primary role in a cluster of `n`.
    fn primary(&self, n: usize) -> usize {
        self.view
            .map_or(self.primary_at_start, |v| (v % n as u64) as usize)
    }

    /// Whether `replica` may lie to `client` about its request `timestamp`. Under the
    /// live primary role the faulty replica moves with the view: two primaries in turn
    /// lying about one request would be two faulty replicas to that client, more than
    /// f, so only the first one to lie about a request does. Fixed faulty replicas
    /// always may (f+1 of them lying together is a run meant to be caught).
    fn may_lie(&mut self, role: Role, client: u64, timestamp: u64, replica: usize) -> bool {
        if role == Role::Fixed {
            return true;
        }
        match self.liars.get(&client) {
            Some(&(t, r)) if t == timestamp => r == replica,
            Some(&(t, _)) if t > timestamp => false,
            _ => {
                self.liars.insert(client, (timestamp, replica));
                true
            }
        }
    }

    fn count(&mut self, m: Mutator, kind: &'static str) {
        *self.counts.entry((m, kind)).or_default() += 1;
    }
}

impl std::fmt::Debug for Byzantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Byzantine")
            .field("faulty", &self.faulty())
            .field("role", &self.role)
            .field("mutators", &self.mutators)
            .field("withheld", &self.withheld)
            .field("censored", &self.censored)
            .finish()
    }
}
