//! The fault API, in turmoil's shape: a [`Rule`] looks at one [`Message`] on one link
//! and returns a [`Verdict`]. The proxy asks its rules in the order they were installed;
//! the first verdict other than [`Verdict::Deliver`] wins. Installing a rule gives a
//! [`RuleGuard`]; dropping the guard removes the rule (heals).

use crate::message::Message;
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

/// One fault, as a small value.
pub trait Rule: Send + Sync + 'static {
    /// The verdict for `msg`; `rng` is the proxy's seeded random stream.
    fn on_message(&self, msg: &Message, rng: &mut ChaCha8Rng) -> Verdict;
    /// A short description, for logs.
    fn describe(&self) -> String;
}

/// The installed rules, in installation order.
#[derive(Default)]
pub(crate) struct RuleTable {
    next_id: u64,
    rules: Vec<(u64, Box<dyn Rule>)>,
}

impl RuleTable {
    pub(crate) fn add(&mut self, rule: Box<dyn Rule>) -> u64 {
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

    /// The first verdict other than deliver.
    pub(crate) fn verdict(&self, msg: &Message, rng: &mut ChaCha8Rng) -> Verdict {
        for (_, rule) in &self.rules {
            let v = rule.on_message(msg, rng);
            if v != Verdict::Deliver {
                return v;
            }
        }
        Verdict::Deliver
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
    pub(crate) fn new(table: &Arc<Mutex<RuleTable>>, rule: Box<dyn Rule>) -> Self {
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
