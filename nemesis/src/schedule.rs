//! Fault schedules: windows of time, each holding one fault that starts at `start`
//! and is healed at `stop` (milliseconds into the workload).
//!
//! A schedule is generated from the seed (`--nemesis` families, `--nemesis-interval`):
//! after `interval` of quiet, a fault drawn from the families runs for `interval`,
//! then `interval` of quiet, and so on until the time limit. Or it is read from a TOML
//! file (`--nemesis-schedule`), an exact timeline:
//!
//! ```toml
//! [[fault]]
//! at = 10            # seconds into the workload
//! heal = 20          # seconds; default: the end of the workload
//! kind = "partition" # partition | packet | kill | pause | rolling-restart | clock | byzantine
//! partition = "primary"   # a topology name, or `nodes = [0, 1]`
//! clients = "all"         # or "isolated": clients reach only the isolated side
//!
//! [[fault]]
//! at = 25
//! heal = 30
//! kind = "clock"
//! target = "one"          # one | primary | minority | majority | all, or `nodes = [..]`
//! clock = "bump"          # bump (delta_ms) | strobe (delta_ms, period_ms) | rate (rate)
//! delta_ms = 5000
//!
//! [[fault]]
//! at = 35
//! kind = "byzantine"
//! nodes = [0]             # or `target = "primary"`, or `count = 1` (chosen by the seed)
//! mutators = "equivocate,lie"   # default: all
//!
//! [[fault]]
//! at = 40
//! heal = 45
//! kind = "disk"           # needs FUSE; at most f targets
//! target = "one"          # or `nodes = [..]`
//! action = "corrupt"      # power-loss | torn-write (file, keep_bytes) |
//!                         # corrupt (file, mode, offset, len) | read-error (file)
//! file = "wal"            # wal | snapshot | history
//! mode = "flip-bits"      # flip-bits | zero | truncate
//! len = 8                 # bytes; `offset` default: chosen by the seed
//!
//! [[fault]]
//! at = 50
//! heal = 52
//! kind = "power-loss-all" # every replica loses power; restarted at the heal
//! ```
//!
//! Windows of the same family may not overlap (kill, pause, rolling restarts and disk
//! faults count as one family: all act on processes).

use crate::byzantine::Mutator;
use crate::disk::{CorruptMode, DiskFault, DiskFile};
use crate::error::{Error, Result};
use crate::fault::{ClockFault, Family, Fault, Faulty, Target};
use crate::packet::PacketSpec;
use crate::partition::{ClientSide, Topology};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One fault in time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    /// When it starts, ms into the workload.
    pub start_ms: u64,
    /// When it is healed, ms into the workload.
    pub stop_ms: u64,
    /// The fault.
    pub fault: Fault,
}

/// A timeline of faults, ordered by start.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Schedule {
    /// The windows.
    pub windows: Vec<Window>,
}

/// Scenarios: named, fixed schedules for common regression tests.
pub const SCENARIOS: [&str; 1] = ["isolate-primary"];

impl Schedule {
    /// No faults.
    pub fn none() -> Schedule {
        Schedule::default()
    }

    /// Alternating quiet and faulty stretches of `interval_ms`, each fault drawn from
    /// `families` by the seed, until `time_limit_ms`.
    pub fn generate(
        families: &[Family],
        interval_ms: u64,
        time_limit_ms: u64,
        packet: &PacketSpec,
        seed: u64,
    ) -> Schedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(crate::streams::SCHEDULE);
        let mut windows = Vec::new();
        if families.is_empty() || interval_ms == 0 {
            return Schedule { windows };
        }
        let mut t = interval_ms;
        while t + interval_ms <= time_limit_ms {
            let family = *families.choose(&mut rng).expect("families is not empty");
            windows.push(Window {
                start_ms: t,
                stop_ms: t + interval_ms,
                fault: Fault::random(family, packet, &mut rng),
            });
            t += 2 * interval_ms;
        }
        // The availability oracle judges stretches where at most f replicas are
        // touched; with every window touching more (a majority paused, then all, then
        // a majority killed) no stretch is longer than the quiet gaps, and such a run
        // could not fail it. One window is then narrowed to a single replica.
        if !windows.iter().any(|w| w.fault.touches_one()) {
            let narrowable: Vec<usize> = (0..windows.len())
                .filter(|&k| windows[k].fault.narrowed_to_one().is_some())
                .collect();
            if let Some(&k) = narrowable.choose(&mut rng) {
                if let Some(fault) = windows[k].fault.narrowed_to_one() {
                    windows[k].fault = fault;
                }
            }
        }
        Schedule { windows }
    }

    /// A named scenario and the time limit it needs (seconds).
    pub fn scenario(name: &str) -> Result<(Schedule, u64)> {
        match name {
            // Isolate the primary for 10 s under load, heal, and leave 10 s to recover.
            "isolate-primary" => Ok((
                Schedule {
                    windows: vec![Window {
                        start_ms: 10_000,
                        stop_ms: 20_000,
                        fault: Fault::Partition {
                            topology: Topology::Primary,
                            clients: ClientSide::All,
                        },
                    }],
                },
                30,
            )),
            other => Err(Error::spec(
                other,
                format!("unknown scenario; expected one of {}", SCENARIOS.join(", ")),
            )),
        }
    }

    /// Reads a TOML schedule (see the module doc) for a workload of `time_limit_ms`.
    pub fn from_toml(text: &str, time_limit_ms: u64) -> Result<Schedule> {
        let file: FileSchedule =
            toml::from_str(text).map_err(|e| Error::schedule(None, e.to_string()))?;
        let mut windows = Vec::new();
        for (i, raw) in file.fault.into_iter().enumerate() {
            windows.push(raw.into_window(i + 1, time_limit_ms)?);
        }
        Ok(Schedule { windows })
    }

    /// Checks targets against the cluster, the windows against the time limit, and that
    /// no two windows of one family overlap.
    pub fn validate(&self, n: usize, time_limit_ms: u64) -> Result<()> {
        for (i, w) in self.windows.iter().enumerate() {
            let at = Some(i + 1);
            w.fault
                .validate(n)
                .map_err(|e| Error::schedule(at, e.to_string()))?;
            if w.start_ms >= time_limit_ms {
                return Err(Error::schedule(
                    at,
                    format!(
                        "it starts at {} s, after the workload's {} s",
                        w.start_ms / 1000,
                        time_limit_ms / 1000
                    ),
                ));
            }
            if w.start_ms >= w.stop_ms {
                return Err(Error::schedule(at, "it must start before it is healed"));
            }
            for (k, other) in self.windows.iter().enumerate().take(i) {
                let same = group(&w.fault) == group(&other.fault);
                let overlap = w.start_ms < other.stop_ms && other.start_ms < w.stop_ms;
                if same && overlap {
                    return Err(Error::schedule(
                        at,
                        format!(
                            "its window {}-{} s overlaps fault #{} ({}-{} s) of the same family",
                            w.start_ms as f64 / 1000.0,
                            w.stop_ms as f64 / 1000.0,
                            k + 1,
                            other.start_ms as f64 / 1000.0,
                            other.stop_ms as f64 / 1000.0
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The families the schedule uses.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> = self.windows.iter().map(|w| w.fault.family()).collect();
        f.sort();
        f.dedup();
        f
    }
}

/// Faults that may not overlap share a group.
fn group(f: &Fault) -> Family {
    match f.family() {
        Family::Kill | Family::Pause | Family::Disk | Family::PowerLossAll => Family::Kill,
        other => other,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchedule {
    #[serde(default)]
    fault: Vec<RawFault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFault {
    at: f64,
    heal: Option<f64>,
    kind: String,
    partition: Option<String>,
    clients: Option<String>,
    nodes: Option<Vec<usize>>,
    target: Option<String>,
    packet: Option<String>,
    clock: Option<String>,
    delta_ms: Option<i64>,
    period_ms: Option<u64>,
    rate: Option<f64>,
    count: Option<usize>,
    mutators: Option<String>,
    action: Option<String>,
    file: Option<String>,
    keep_bytes: Option<usize>,
    mode: Option<String>,
    offset: Option<u64>,
    len: Option<u64>,
}

fn seconds_to_ms(i: usize, what: &str, s: f64) -> Result<u64> {
    if !(s.is_finite() && s >= 0.0) {
        return Err(Error::schedule(
            Some(i),
            format!("{what} = {s} is not a time ≥ 0"),
        ));
    }
    Ok((s * 1000.0).round() as u64)
}

impl RawFault {
    fn into_window(self, i: usize, time_limit_ms: u64) -> Result<Window> {
        let at = Some(i);
        let err = |e: Error| Error::schedule(at, e.to_string());
        let need = |v: Option<String>, key: &str| {
            v.ok_or_else(|| Error::schedule(at, format!("kind {:?} needs `{key}`", self.kind)))
        };
        let target = |t: &Option<String>, nodes: &Option<Vec<usize>>| -> Result<Target> {
            match (t, nodes) {
                (Some(_), Some(_)) => {
                    Err(Error::schedule(at, "give `target` or `nodes`, not both"))
                }
                (Some(t), None) => t.parse().map_err(err),
                (None, Some(n)) => Ok(Target::Nodes(n.clone())),
                (None, None) => Err(Error::schedule(at, "needs `target` or `nodes`")),
            }
        };
        let fault = match self.kind.as_str() {
            "partition" => {
                let topology = match (&self.partition, &self.nodes) {
                    (Some(_), Some(_)) => {
                        return Err(Error::schedule(at, "give `partition` or `nodes`, not both"))
                    }
                    (Some(p), None) => p.parse().map_err(err)?,
                    (None, Some(n)) => Topology::Nodes(n.clone()),
                    (None, None) => {
                        return Err(Error::schedule(at, "needs `partition` or `nodes`"))
                    }
                };
                let clients = match &self.clients {
                    Some(c) => c.parse().map_err(err)?,
                    None => ClientSide::All,
                };
                Fault::Partition { topology, clients }
            }
            "packet" => Fault::Packet {
                spec: need(self.packet.clone(), "packet")?.parse().map_err(err)?,
            },
            "kill" => Fault::Kill {
                target: target(&self.target, &self.nodes)?,
            },
            "pause" => Fault::Pause {
                target: target(&self.target, &self.nodes)?,
            },
            "rolling-restart" => Fault::RollingRestart,
            "byzantine" => {
                let faulty = match (&self.target, &self.nodes, self.count) {
                    (Some(t), None, None) if t == "primary" => Faulty::Primary,
                    (None, Some(n), None) => Faulty::Nodes(n.clone()),
                    (None, None, Some(k)) => Faulty::Random(k),
                    (None, None, None) => Faulty::Random(1),
                    _ => {
                        return Err(Error::schedule(
                            at,
                            "byzantine takes one of `target = \"primary\"`, `nodes` or `count`",
                        ))
                    }
                };
                let mutators = match &self.mutators {
                    Some(m) => Mutator::parse_list(m).map_err(err)?,
                    None => Mutator::ALL.to_vec(),
                };
                Fault::Byzantine { faulty, mutators }
            }
            "clock" => {
                let kind = need(self.clock.clone(), "clock")?;
                let delta = || {
                    self.delta_ms.ok_or_else(|| {
                        Error::schedule(at, format!("clock {kind:?} needs `delta_ms`"))
                    })
                };
                let fault = match kind.as_str() {
                    "bump" => ClockFault::Bump { delta_ms: delta()? },
                    "strobe" => ClockFault::Strobe {
                        delta_ms: delta()?,
                        period_ms: self.period_ms.unwrap_or(100),
                    },
                    "rate" => ClockFault::Rate {
                        rate: self
                            .rate
                            .ok_or_else(|| Error::schedule(at, "clock \"rate\" needs `rate`"))?,
                    },
                    other => {
                        return Err(Error::schedule(
                            at,
                            format!("unknown clock fault {other:?}; expected bump, strobe or rate"),
                        ))
                    }
                };
                Fault::Clock {
                    target: target(&self.target, &self.nodes)?,
                    fault,
                }
            }
            "disk" => Fault::Disk {
                target: target(&self.target, &self.nodes)?,
                fault: self.disk_fault(i)?,
            },
            "power-loss-all" => Fault::Disk {
                target: Target::All,
                fault: DiskFault::PowerLoss,
            },
            other => {
                return Err(Error::schedule(
                    at,
                    format!(
                        "unknown fault kind {other:?}; expected partition, packet, kill, pause, \
                         rolling-restart, clock, byzantine, disk or power-loss-all"
                    ),
                ))
            }
        };
        let start_ms = seconds_to_ms(i, "at", self.at)?;
        let stop_ms = match self.heal {
            Some(h) => seconds_to_ms(i, "heal", h)?,
            None => time_limit_ms,
        };
        Ok(Window {
            start_ms,
            stop_ms,
            fault,
        })
    }

    /// The `action` of a `disk` fault and its parameters.
    fn disk_fault(&self, i: usize) -> Result<DiskFault> {
        let at = Some(i);
        let err = |e: Error| Error::schedule(at, e.to_string());
        let action = self
            .action
            .as_deref()
            .ok_or_else(|| Error::schedule(at, "kind \"disk\" needs `action`"))?;
        let file = |default: DiskFile| -> Result<DiskFile> {
            self.file
                .as_deref()
                .map_or(Ok(default), |f| f.parse().map_err(err))
        };
        Ok(match action {
            "power-loss" => DiskFault::PowerLoss,
            "torn-write" => DiskFault::TornWrite {
                file: file(DiskFile::Wal)?,
                keep_bytes: self.keep_bytes.unwrap_or(7),
            },
            "corrupt" => DiskFault::Corrupt {
                file: file(DiskFile::Wal)?,
                mode: self
                    .mode
                    .as_deref()
                    .map_or(Ok(CorruptMode::FlipBits), |m| m.parse().map_err(err))?,
                offset: self.offset,
                len: self.len.unwrap_or(8),
            },
            "read-error" => DiskFault::ReadError {
                file: file(DiskFile::Wal)?,
            },
            other => {
                return Err(Error::schedule(
                    at,
                    format!(
                        "unknown disk action {other:?}; expected power-loss, torn-write, \
                         corrupt or read-error"
                    ),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_schedule_reads_and_validates() {
        let text = r#"
            [[fault]]
            at = 10
            heal = 20
            kind = "partition"
            partition = "primary"

            [[fault]]
            at = 12
            heal = 18
            kind = "clock"
            target = "one"
            clock = "strobe"
            delta_ms = 500

            [[fault]]
            at = 25
            kind = "kill"
            nodes = [0, 3]
        "#;
        let s = Schedule::from_toml(text, 60_000).unwrap();
        s.validate(4, 60_000).unwrap();
        assert_eq!(s.windows.len(), 3);
        assert_eq!(s.windows[2].stop_ms, 60_000);
        assert_eq!(
            s.windows[2].fault,
            Fault::Kill {
                target: Target::Nodes(vec![0, 3])
            }
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        let cases = [
            ("[[fault]]\nat = 1\nkind = \"meteor\"", "unknown fault kind"),
            (
                "[[fault]]\nat = 1\nkind = \"kill\"\nnodes = [9]",
                "out of range",
            ),
            (
                "[[fault]]\nat = 1\nheal = 5\nkind = \"kill\"\ntarget = \"one\"\n\
                 [[fault]]\nat = 3\nheal = 8\nkind = \"pause\"\ntarget = \"one\"",
                "overlaps fault #1",
            ),
            (
                "[[fault]]\nat = 5\nheal = 2\nkind = \"rolling-restart\"",
                "start before",
            ),
            (
                "[[fault]]\nat = 1\nkind = \"kill\"\ntarget = \"one\"\ncolour = 1",
                "colour",
            ),
            (
                "[[fault]]\nat = 100\nkind = \"rolling-restart\"",
                "after the workload",
            ),
            (
                "[[fault]]\nat = 1\nkind = \"clock\"\ntarget = \"one\"\nclock = \"bump\"",
                "delta_ms",
            ),
        ];
        for (text, says) in cases {
            let err = Schedule::from_toml(text, 60_000)
                .and_then(|s| s.validate(4, 60_000).map(|_| s))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{text}\n=> {err}");
        }
    }

    #[test]
    fn generated_schedules_alternate_and_follow_the_seed() {
        let spec = PacketSpec::default_faults();
        let a = Schedule::generate(&Family::ALL, 5_000, 60_000, &spec, 1);
        let b = Schedule::generate(&Family::ALL, 5_000, 60_000, &spec, 1);
        assert_eq!(a, b);
        assert_eq!(a.windows.len(), 6);
        a.validate(4, 60_000).unwrap();
        for w in a.windows.windows(2) {
            assert!(
                w[0].stop_ms < w[1].start_ms,
                "a quiet stretch between faults"
            );
        }
        let c = Schedule::generate(&Family::ALL, 5_000, 60_000, &spec, 2);
        assert_ne!(a, c);
        assert!(Schedule::generate(&[], 5_000, 60_000, &spec, 1)
            .windows
            .is_empty());
    }
}
