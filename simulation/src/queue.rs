//! The event queue: events ordered by (virtual time, sequence number). The sequence
//! number is assigned at insertion, so two events due at the same instant come out in
//! the order they were scheduled, whatever their content: nothing else decides order.

use std::collections::BTreeMap;

/// Events due at virtual times (ns), popped in (time, insertion) order.
#[derive(Debug)]
pub struct EventQueue<E> {
    events: BTreeMap<(u64, u64), E>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            events: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedules `event` at `at_ns`.
    pub fn push(&mut self, at_ns: u64, event: E) {
        self.events.insert((at_ns, self.next_seq), event);
        self.next_seq += 1;
    }

    /// The earliest event and its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        self.events.pop_first().map(|((t, _), e)| (t, e))
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<u64> {
        self.events.first_key_value().map(|((t, _), _)| *t)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True if no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Drops every event for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.events.retain(|_, e| keep(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_insertion_order() {
        let mut q = EventQueue::default();
        q.push(5, "b");
        q.push(1, "a");
        q.push(5, "c");
        assert_eq!(q.pop(), Some((1, "a")));
        assert_eq!(q.pop(), Some((5, "b")));
        assert_eq!(q.pop(), Some((5, "c")));
        assert!(q.is_empty());
    }
}
