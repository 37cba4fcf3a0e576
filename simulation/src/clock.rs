//! A replica's injectable clock under virtual time, with the semantics of
//! `replica::clock::Clock`: elapsed time scaled by a rate, plus an offset; changing
//! the settings re-anchors it (what a rate gained or lost stays gained or lost). The
//! engine learns time only from the ticks stamped with it.

use replica::clock::ClockSettings;

/// One replica's clock.
#[derive(Clone, Copy, Debug)]
pub struct SimClock {
    /// Virtual time (ns) of the last change.
    anchor_ns: u64,
    /// The clock's unskewed reading (ms) at the last change.
    anchor_ms: f64,
    settings: ClockSettings,
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock {
            anchor_ns: 0,
            anchor_ms: 0.0,
            settings: ClockSettings::default(),
        }
    }
}

impl SimClock {
    fn unskewed(&self, now_ns: u64) -> f64 {
        self.anchor_ms + now_ns.saturating_sub(self.anchor_ns) as f64 / 1e6 * self.settings.rate
    }

    /// The reading (ms, never negative) at virtual time `now_ns`.
    pub fn now_ms(&self, now_ns: u64) -> u64 {
        (self.unskewed(now_ns) + self.settings.offset_ms as f64).max(0.0) as u64
    }

    /// Changes offset and rate from `now_ns` on (a negative or non-finite rate is
    /// clamped as the replica's clock does).
    pub fn set(&mut self, now_ns: u64, settings: ClockSettings) {
        self.anchor_ms = self.unskewed(now_ns);
        self.anchor_ns = now_ns;
        let rate = if settings.rate.is_finite() {
            settings.rate.max(0.0)
        } else {
            1.0
        };
        self.settings = ClockSettings { rate, ..settings };
    }

    /// The settings in force.
    pub fn settings(&self) -> ClockSettings {
        self.settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_rates_follow_the_replica_clock() {
        let mut c = SimClock::default();
        assert_eq!(c.now_ms(1_500_000_000), 1_500);
        c.set(
            1_000_000_000,
            ClockSettings {
                offset_ms: 5_000,
                rate: 1.0,
            },
        );
        assert_eq!(c.now_ms(2_000_000_000), 7_000);
        c.set(
            2_000_000_000,
            ClockSettings {
                offset_ms: 0,
                rate: 0.5,
            },
        );
        assert_eq!(c.now_ms(4_000_000_000), 3_000);
        c.set(4_000_000_000, ClockSettings::default());
        assert_eq!(
            c.now_ms(5_000_000_000),
            4_000,
            "what the rate lost stays lost"
        );
        c.set(
            5_000_000_000,
            ClockSettings {
                offset_ms: -9_000,
                rate: 1.0,
            },
        );
        assert_eq!(c.now_ms(5_000_000_000), 0, "never negative");
    }
}
