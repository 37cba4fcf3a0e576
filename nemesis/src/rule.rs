//! The fault API, in turmoil's shape: a [`Rule`] looks at one [`Message`] on one link
//! and returns a [`Verdict`]. The proxy asks its rules in the order they were installed;
//! the first verdict other than [`Verdict::Deliver`] wins. Installing a rule gives a
//! [`RuleGuard`]; dropping the guard removes the rule (heals).
//!
//! A rule may also speak for a message's sender: its [`Rule::mutate`] says what a
//! Byzantine replica sends instead of what its engine sent ([`Mutate`]). That stage
//! comes first, whatever the installation order (the sender acts before the network
//! does): every rule is asked, in order, and the first mutation wins; each message that
//! results, extra ones included, then meets the verdicts of every rule, one after the
//! other, and is counted once. Byzantine behaviour is one more rule in the same table,
//! healed the same way.

use crate::link::Link;
use crate::message::Message;
use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// What happens to one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it now.
    Deliver,
    /// Lose it.
    Drop,
    /// Forward it after this long.
    Delay(Duration),
    /// Forward it twice.
    Duplicate,
    /// Hold it back and forward it after the next message on the link (reorder), or
    /// after a short while if none comes.
    Hold,
    /// Forward it, and forward again an earlier message of the same link (replay).
    Replay,
}

/// What a rule speaking for a message's sender (a Byzantine replica) makes of it,
/// before the network's verdicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutate {
    /// The sender sends these bodies instead, in this order, each `lag` after the one
    /// before, each labelled `tag` (the mutator that made them); every one of them then
    /// meets the verdicts like any message.
    Send {
        /// The messages sent instead of the original (at least one).
        bodies: Vec<Bytes>,
        /// The wait before each body after the first.
        lag: Duration,
        /// The label they are forwarded and counted with.
        tag: Option<&'static str>,
    },
    /// Never sent by a faulty sender, or never taken in by a faulty receiver: the
    /// sender gets the answer of a lost message.
    Withhold,
    /// Never reaches the receiver: the sender gets this answer at once (a faulty
    /// replica acknowledging a client's request it will never apply).
    Answer(Bytes),
}

/// One fault, as a small value.
pub trait Rule: Send + Sync + 'static {
    /// The verdict for `msg`; `rng` is the proxy's seeded random stream.
    fn on_message(&self, msg: &Message, rng: &mut ChaCha8Rng) -> Verdict;

    /// The mutation stage: what `msg`'s sender sends instead of `body` (a client
    /// request when `is_request`), if this rule speaks for it. Asked of every rule
    /// before any verdict; the first answer wins. Network faults keep the default,
    /// none.
    fn mutate(&self, _msg: &Message, _is_request: bool, _body: &Bytes) -> Option<Mutate> {
        None
    }

    /// Notes what the verdicts did with a message this rule's [`Rule::mutate`] made
    /// under `tag`: delivered (possibly late or twice) or dropped.
    fn fate(&self, _tag: &'static str, _delivered: bool) {}

    /// A replica's answer to a client's request on `link`, as the client gets it, if
    /// this rule changes it (a lying replica).
    fn reply(&self, _link: Link, _reply: &Bytes) -> Option<Bytes> {
        None
    }

    /// A short description, for logs.
    fn describe(&self) -> String;
}

/// A shared rule, as the table holds it.
pub(crate) type SharedRule = Arc<dyn Rule>;

/// The installed rules, in installation order.
#[derive(Default)]
pub(crate) struct RuleTable {
    next_id: u64,
    rules: Vec<(u64, SharedRule)>,
}

/// The rules in force when a message arrived, judged without holding the table: a
/// mutation signs, and a rule healed meanwhile still judges the message it began with.
pub(crate) struct Rules(Vec<SharedRule>);

impl Rules {
    /// The first mutation any rule makes of `msg`, with the rule that made it.
    pub(crate) fn mutate(
        &self,
        msg: &Message,
        is_request: bool,
        body: &Bytes,
    ) -> Option<(&SharedRule, Mutate)> {
        self.0
            .iter()
            .find_map(|rule| Some((rule, rule.mutate(msg, is_request, body)?)))
    }

    /// The first verdict other than deliver.
    pub(crate) fn verdict(&self, msg: &Message, rng: &mut ChaCha8Rng) -> Verdict {
        for rule in &self.0 {
            let v = rule.on_message(msg, rng);
            if v != Verdict::Deliver {
                return v;
            }
        }
        Verdict::Deliver
    }

    /// The first rule's change to a replica's answer to a client.
    pub(crate) fn reply(&self, link: Link, reply: &Bytes) -> Option<Bytes> {
        self.0.iter().find_map(|rule| rule.reply(link, reply))
    }
}

impl RuleTable {
    pub(crate) fn add(&mut self, rule: SharedRule) -> u64 {
        self.next_id += 1;
        self.rules.push((self.next_id, rule));
        self.next_id
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.rules.retain(|(i, _)| *i != id);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in force now.
    pub(crate) fn snapshot(&self) -> Rules {
        Rules(self.rules.iter().map(|(_, r)| Arc::clone(r)).collect())
    }
}

/// Removes its rule from the proxy when dropped (or [`RuleGuard::heal`]ed).
#[must_use = "dropping the guard removes the rule at once"]
pub struct RuleGuard {
    pub(crate) table: Weak<Mutex<RuleTable>>,
    pub(crate) id: u64,
    pub(crate) description: String,
}

impl RuleGuard {
    pub(crate) fn new(table: &Arc<Mutex<RuleTable>>, rule: SharedRule) -> Self {
        let description = rule.describe();
        let id = table.lock().expect("rule table poisoned").add(rule);
        RuleGuard {
            table: Arc::downgrade(table),
            id,
            description,
        }
    }

    /// What the rule does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Removes the rule now.
    pub fn heal(self) {}
}

impl Drop for RuleGuard {
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            if let Ok(mut t) = table.lock() {
                t.remove(self.id);
            }
        }
    }
}

impl std::fmt::Debug for RuleGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleGuard")
            .field("id", &self.id)
            .field("description", &self.description)
            .finish()
    }
}
