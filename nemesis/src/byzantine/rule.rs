//! Byzantine replicas as a rule of the proxy's rule table: their mutators are the
//! table's mutation stage ([`Rule::mutate`]), their lies its reply stage, and what the
//! network's rules then do with each mutated message comes back as its fate.

use super::{Byzantine, Mutator};
use crate::link::Link;
use crate::message::Message;
use crate::rule::{Mutate, Rule, Verdict};
use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The rule a set of Byzantine replicas is installed as: the proxy's table holds it,
/// and the simulator asks it the same questions.
pub struct ByzantineRule(pub(crate) Arc<Byzantine>);

impl ByzantineRule {
    /// The rule of a Byzantine set.
    pub fn new(byzantine: Byzantine) -> ByzantineRule {
        ByzantineRule(Arc::new(byzantine))
    }

    /// The Byzantine set it speaks for.
    pub fn byzantine(&self) -> &Byzantine {
        &self.0
    }
}

impl std::fmt::Debug for ByzantineRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ByzantineRule").field(&self.0).finish()
    }
}

impl Rule for ByzantineRule {
    fn on_message(&self, _msg: &Message, _rng: &mut ChaCha8Rng) -> Verdict {
        Verdict::Deliver
    }

    /// A censored client's requests (and relays of them) never reach a faulty
    /// replica; a lying one acknowledges a client's write it will never apply; a
    /// faulty replica's own peer messages are what its mutators make of them.
    fn mutate(&self, msg: &Message, is_request: bool, body: &Bytes) -> Option<Mutate> {
        let b = &self.0;
        if b.censors(msg.link, is_request, body) {
            return Some(Mutate::Withhold);
        }
        if is_request {
            return b.acknowledges_unapplied(msg.link, body).map(Mutate::Answer);
        }
        b.observe(msg);
        let outcome = b.on_peer(msg.link, body)?;
        if outcome.send.is_empty() {
            return Some(Mutate::Withhold);
        }
        Some(Mutate::Send {
            bodies: outcome.send,
            lag: outcome.lag,
            tag: outcome.mutator.map(Mutator::name),
        })
    }

    fn fate(&self, tag: &'static str, delivered: bool) {
        if let Ok(mutator) = tag.parse::<Mutator>() {
            self.0.count_fate(mutator, delivered);
        }
    }

    fn reply(&self, link: Link, reply: &Bytes) -> Option<Bytes> {
        self.0.on_reply(link, reply)
    }

    fn describe(&self) -> String {
        let faulty: Vec<String> = self.0.faulty().iter().map(|r| r.to_string()).collect();
        let mutators: Vec<&str> = self.0.mutators().iter().map(|m| m.name()).collect();
        format!(
            "byzantine replicas {} ({})",
            faulty.join(","),
            mutators.join(",")
        )
    }
}
