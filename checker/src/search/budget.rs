//! Limits on a check: a deadline, a memory ceiling, and cancellation once a verdict is known.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// Why a search stopped before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The deadline passed.
    Time,
    /// The memo tables together outgrew the memory limit.
    Memory,
    /// A run used up its step quantum; it will be tried again with a larger one.
    Steps,
    /// Another key was found not linearizable, so this one no longer matters.
    Cancelled,
}

/// Shared by every search of one check.
pub(crate) struct Budget {
    deadline: Option<Instant>,
    memory_limit: Option<usize>,
    memory_used: AtomicUsize,
    cancelled: AtomicBool,
}

impl Budget {
    /// A budget with an optional deadline and memory ceiling in bytes.
    pub(crate) fn new(deadline: Option<Instant>, memory_limit: Option<usize>) -> Self {
        Budget {
            deadline,
            memory_limit,
            memory_used: AtomicUsize::new(0),
            cancelled: AtomicBool::new(false),
        }
    }

    /// Tells every running search to stop.
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`Budget::cancel`] was called.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn check(&self) -> Result<(), Stop> {
        if self.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Stop::Time);
        }
        if self
            .memory_limit
            .is_some_and(|m| self.memory_used.load(Ordering::Relaxed) > m)
        {
            return Err(Stop::Memory);
        }
        Ok(())
    }
}

/// One search's share of the memory budget; gives it back when dropped.
pub(crate) struct Lease<'a> {
    budget: &'a Budget,
    held: usize,
}

impl<'a> Lease<'a> {
    /// A lease of nothing yet.
    pub(crate) fn new(budget: &'a Budget) -> Self {
        Lease { budget, held: 0 }
    }

    /// Records that this search now holds `bytes`, then checks every limit.
    pub(crate) fn update(&mut self, bytes: usize) -> Result<(), Stop> {
        if bytes >= self.held {
            self.budget
                .memory_used
                .fetch_add(bytes - self.held, Ordering::Relaxed);
        } else {
            self.budget
                .memory_used
                .fetch_sub(self.held - bytes, Ordering::Relaxed);
        }
        self.held = bytes;
        self.budget.check()
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.budget
            .memory_used
            .fetch_sub(self.held, Ordering::Relaxed);
    }
}
