//! The injectable clock: real elapsed time scaled by a rate, plus an offset. The
//! engine only learns time from ticks stamped with this clock, so the nemesis can
//! skew or speed up a replica through `POST /clock`.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Clock settings, the body of `POST /clock` and `GET /clock`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClockSettings {
    /// Offset added to the clock (ms, may be negative).
    pub offset_ms: i64,
    /// Speed of the clock relative to real time (1.0 = normal).
    pub rate: f64,
}

impl Default for ClockSettings {
    fn default() -> Self {
        ClockSettings {
            offset_ms: 0,
            rate: 1.0,
        }
    }
}

#[derive(Debug)]
struct Anchor {
    real: Instant,
    virtual_ms: f64,
    settings: ClockSettings,
}

/// A monotonic millisecond clock with adjustable offset and rate.
#[derive(Debug)]
pub struct Clock {
    anchor: Mutex<Anchor>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock starting at 0 ms now.
    pub fn new() -> Self {
        Clock {
            anchor: Mutex::new(Anchor {
                real: Instant::now(),
                virtual_ms: 0.0,
                settings: ClockSettings::default(),
            }),
        }
    }

    fn unskewed(a: &Anchor) -> f64 {
        a.virtual_ms + a.real.elapsed().as_secs_f64() * 1000.0 * a.settings.rate
    }

    /// Current time in ms (never negative).
    pub fn now_ms(&self) -> u64 {
        let a = self.anchor.lock().expect("clock lock");
        (Self::unskewed(&a) + a.settings.offset_ms as f64).max(0.0) as u64
    }

    /// Current settings.
    pub fn settings(&self) -> ClockSettings {
        self.anchor.lock().expect("clock lock").settings
    }

    /// Changes offset and rate from now on (a negative or non-finite rate is clamped to 0).
    pub fn set(&self, settings: ClockSettings) {
        let mut a = self.anchor.lock().expect("clock lock");
        a.virtual_ms = Self::unskewed(&a);
        a.real = Instant::now();
        let rate = if settings.rate.is_finite() {
            settings.rate.max(0.0)
        } else {
            1.0
        };
        a.settings = ClockSettings { rate, ..settings };
    }

    /// Real time until the clock reaches `at_ms` (long if the clock is stopped).
    pub fn real_delay_until(&self, at_ms: u64) -> std::time::Duration {
        let now = self.now_ms();
        let rate = self.settings().rate;
        if at_ms <= now {
            return std::time::Duration::ZERO;
        }
        if rate <= 0.0 {
            return std::time::Duration::from_secs(3600);
        }
        std::time::Duration::from_secs_f64((at_ms - now) as f64 / rate / 1000.0)
    }
}
