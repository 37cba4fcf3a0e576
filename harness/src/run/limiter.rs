//! The global rate limiter: one ticket per operation, released at the target rate with
//! seeded jitter.
//!
//! Tickets do not pile up: at most one per worker slot waits, and ticks beyond that are
//! skipped, so a slow cluster sees fewer operations instead of a burst later.

use super::shutdown::Stop;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Tickets workers take before each operation.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    tickets: Arc<Semaphore>,
}

impl Limiter {
    /// Starts releasing tickets at `rate` per second (each gap uniformly jittered by ±50 %)
    /// until `stop` is set. At most `burst` tickets wait at once (one per worker slot).
    pub(crate) fn start(
        rate: f64,
        burst: usize,
        seed: u64,
        mut stop: Stop,
    ) -> (Limiter, JoinHandle<()>) {
        let tickets = Arc::new(Semaphore::new(0));
        let limiter = Limiter {
            tickets: Arc::clone(&tickets),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(nemesis::streams::LIMITER_JITTER);
        let mean = 1.0 / rate;
        let burst = burst.max(1);
        let task = tokio::spawn(async move {
            let mut next = Instant::now();
            loop {
                next += Duration::from_secs_f64(mean * rng.gen_range(0.5..1.5));
                // Stop first; otherwise wait for the next tick.
                tokio::select! {
                    biased;
                    _ = stop.wait() => break,
                    _ = tokio::time::sleep_until(next) => {}
                }
                // Ticks that fell due while we slept (rates above the timer's resolution).
                let mut due = 1;
                let now = Instant::now();
                while next <= now && due < burst {
                    next += Duration::from_secs_f64(mean * rng.gen_range(0.5..1.5));
                    due += 1;
                }
                let waiting = tickets.available_permits();
                tickets.add_permits(due.min(burst.saturating_sub(waiting)));
            }
            // Wake every waiting worker so it sees the stop flag.
            tickets.close();
        });
        (limiter, task)
    }

    /// Waits for a ticket; `false` once the limiter has stopped.
    pub(crate) async fn ticket(&self) -> bool {
        match self.tickets.acquire().await {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::shutdown::stop_flag;

    // Virtual time: the clock moves only when every task waits, so the counts below
    // do not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn releases_about_rate_tickets_per_second() {
        let (sender, stop) = stop_flag();
        let (limiter, task) = Limiter::start(100.0, 4, 1, stop);
        let started = Instant::now();
        let mut got = 0;
        while started.elapsed() < Duration::from_secs(1) {
            assert!(limiter.ticket().await);
            got += 1;
        }
        assert!((70..=115).contains(&got), "{got} tickets in 1 s at 100/s");
        sender.stop();
        task.await.unwrap();
        assert!(!limiter.ticket().await);
    }

    // Virtual time: the clock moves only when every task waits, so the counts below
    // do not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn reaches_rates_above_the_timer_resolution() {
        let (sender, stop) = stop_flag();
        let (limiter, task) = Limiter::start(5000.0, 8, 1, stop);
        let started = Instant::now();
        let mut got = 0;
        while started.elapsed() < Duration::from_millis(500) {
            assert!(limiter.ticket().await);
            got += 1;
        }
        assert!(got >= 1500, "{got} tickets in 0.5 s at 5000/s");
        sender.stop();
        task.await.unwrap();
    }
}
