//! The faults a schedule holds, grouped in the families `--nemesis` names, and the
//! targets of process and clock faults.

use crate::disk::{CorruptMode, DiskFault, DiskFile};
use crate::error::{Error, Result};
use crate::packet::PacketSpec;
use crate::partition::{ClientSide, Topology};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::str::FromStr;

/// A family of faults, as named in `--nemesis`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// Network partitions.
    Partition,
    /// Packet faults on every link.
    Packet,
    /// SIGKILL and restart (including rolling restarts).
    Kill,
    /// SIGSTOP and SIGCONT.
    Pause,
    /// Clock bumps, strobes and rate changes.
    Clock,
    /// Byzantine replicas (message mutation through the proxy).
    Byzantine,
    /// Disk faults on at most f replicas: power loss, torn writes, corruption at rest,
    /// read errors (needs FUSE: the harness mounts its layer under the replicas).
    Disk,
    /// Power loss of every replica at once (needs FUSE).
    PowerLossAll,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 8] = [
        Family::Partition,
        Family::Packet,
        Family::Kill,
        Family::Pause,
        Family::Clock,
        Family::Byzantine,
        Family::Disk,
        Family::PowerLossAll,
    ];

    /// The families `all` stands for: every crash-and-network family. Byzantine
    /// replicas are asked for by name (`--nemesis all,byzantine`).
    pub const BENIGN: [Family; 5] = [
        Family::Partition,
        Family::Packet,
        Family::Kill,
        Family::Pause,
        Family::Clock,
    ];

    /// The family's name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Partition => "partition",
            Family::Packet => "packet",
            Family::Kill => "kill",
            Family::Pause => "pause",
            Family::Clock => "clock",
            Family::Byzantine => "byzantine",
            Family::Disk => "disk",
            Family::PowerLossAll => "power-loss-all",
        }
    }

    /// Whether the family needs the disk-fault layer (FUSE) under the replicas.
    pub fn needs_disk_layer(self) -> bool {
        matches!(self, Family::Disk | Family::PowerLossAll)
    }

    /// Whether the family needs the proxy.
    pub fn needs_proxy(self) -> bool {
        matches!(self, Family::Partition | Family::Packet | Family::Byzantine)
    }

    /// Parses a `--nemesis` list: comma-separated families, or `all`, or `none`.
    pub fn parse_list(spec: &str) -> Result<Vec<Family>> {
        let mut out = Vec::new();
        for word in spec.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "none" => {}
                "all" => out.extend(Family::BENIGN),
                w => out.push(w.parse()?),
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl FromStr for Family {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Family::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::spec(
                    s,
                    "unknown fault; expected partition, packet, kill, pause, clock, byzantine, disk, \
                     power-loss-all, all or none",
                )
            })
    }
}

/// Which replicas a process or clock fault hits, resolved when the fault starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// One random replica.
    One,
    /// The primary at the time.
    Primary,
    /// A random ⌊(n-1)/2⌋ replicas.
    Minority,
    /// A random ⌊n/2⌋+1 replicas.
    Majority,
    /// Every replica.
    All,
    /// These replicas.
    Nodes(Vec<usize>),
}

impl Target {
    /// The named targets.
    pub const NAMED: [&'static str; 5] = ["one", "primary", "minority", "majority", "all"];

    /// Checks node ids against the cluster size.
    pub fn validate(&self, n: usize) -> Result<()> {
        if let Target::Nodes(nodes) = self {
            if nodes.is_empty() {
                return Err(Error::spec("[]", "a target needs at least one node"));
            }
            if let Some(bad) = nodes.iter().find(|&&i| i >= n) {
                return Err(Error::spec(
                    format!("{nodes:?}"),
                    format!("node {bad} is out of range: the cluster has nodes 0..{n}"),
                ));
            }
        }
        Ok(())
    }

    /// The replicas hit, in id order.
    pub fn resolve(&self, n: usize, primary: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let mut nodes: Vec<usize> = (0..n).collect();
        let mut pick = |k: usize| {
            nodes.shuffle(rng);
            let mut v = nodes[..k].to_vec();
            v.sort_unstable();
            v
        };
        match self {
            Target::One => pick(1),
            Target::Primary => vec![primary % n],
            Target::Minority => pick(((n - 1) / 2).max(1)),
            Target::Majority => pick(n / 2 + 1),
            Target::All => (0..n).collect(),
            Target::Nodes(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                v.dedup();
                v
            }
        }
    }

    /// How many replicas of `n` it hits.
    pub fn count(&self, n: usize) -> usize {
        match self {
            Target::One | Target::Primary => 1,
            Target::Minority => ((n - 1) / 2).max(1),
            Target::Majority => n / 2 + 1,
            Target::All => n,
            Target::Nodes(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                v.dedup();
                v.len()
            }
        }
    }

    /// The name as written in specs.
    pub fn name(&self) -> String {
        match self {
            Target::One => "one".into(),
            Target::Primary => "primary".into(),
            Target::Minority => "minority".into(),
            Target::Majority => "majority".into(),
            Target::All => "all".into(),
            Target::Nodes(v) => format!("nodes {v:?}"),
        }
    }
}

impl FromStr for Target {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "one" => Target::One,
            "primary" => Target::Primary,
            "minority" => Target::Minority,
            "majority" => Target::Majority,
            "all" => Target::All,
            other => {
                return Err(Error::spec(
                    other,
                    format!("unknown target; expected {}", Target::NAMED.join(", ")),
                ))
            }
        })
    }
}

/// Which replicas are Byzantine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Faulty {
    /// This many, chosen by the seed when the fault starts.
    Random(usize),
    /// These.
    Nodes(Vec<usize>),
    /// Whoever is primary when each message is sent (it follows the view changes).
    Primary,
}

impl Faulty {
    /// How many replicas are faulty.
    pub fn count(&self) -> usize {
        match self {
            Faulty::Random(k) => *k,
            Faulty::Nodes(v) => {
                let mut v = v.clone();
                v.sort_unstable();
                v.dedup();
                v.len()
            }
            Faulty::Primary => 1,
        }
    }

    /// Parses `--byzantine-replicas`: `primary` or a comma-separated id list.
    pub fn parse_list(spec: &str) -> Result<Faulty> {
        if spec.trim() == "primary" {
            return Ok(Faulty::Primary);
        }
        let nodes = spec
            .split(',')
            .map(|w| {
                w.trim()
                    .parse::<usize>()
                    .map_err(|_| Error::spec(spec, "expected `primary` or replica ids like 0,3"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Faulty::Nodes(nodes))
    }

    /// The faulty replicas, in id order.
    pub fn resolve(&self, n: usize, primary: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        match self {
            Faulty::Random(k) => {
                let mut nodes: Vec<usize> = (0..n).collect();
                nodes.shuffle(rng);
                let mut v = nodes[..(*k).min(n)].to_vec();
                v.sort_unstable();
                v
            }
            Faulty::Nodes(v) => Target::Nodes(v.clone()).resolve(n, primary, rng),
            Faulty::Primary => vec![primary % n],
        }
    }

    fn name(&self) -> String {
        match self {
            Faulty::Random(k) => format!("{k} random"),
            Faulty::Nodes(v) => format!("{v:?}"),
            Faulty::Primary => "primary".into(),
        }
    }
}

/// What a clock fault does to its targets' clocks.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "clock")]
pub enum ClockFault {
    /// Jump the clock by `delta_ms` (negative: back).
    Bump {
        /// The jump.
        delta_ms: i64,
    },
    /// Flip the offset between 0 and `delta_ms` every `period_ms`.
    Strobe {
        /// The offset flipped to.
        delta_ms: i64,
        /// Time between flips.
        period_ms: u64,
    },
    /// Run the clock at `rate` times real speed.
    Rate {
        /// The speed (0.5 is half speed).
        rate: f64,
    },
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Fault {
    /// A network partition.
    Partition {
        /// Its shape.
        topology: Topology,
        /// Which replicas clients still reach.
        clients: ClientSide,
    },
    /// Packet faults on every link.
    Packet {
        /// The probabilities.
        spec: PacketSpec,
    },
    /// SIGKILL the targets; restart them on the same data when healed.
    Kill {
        /// Who.
        target: Target,
    },
    /// SIGSTOP the targets; SIGCONT when healed.
    Pause {
        /// Who.
        target: Target,
    },
    /// Kill and restart every replica in turn, waiting for each to answer.
    RollingRestart,
    /// Skew the targets' clocks; reset when healed.
    Clock {
        /// Who.
        target: Target,
        /// How.
        fault: ClockFault,
    },
    /// Make replicas Byzantine: the proxy rewrites and re-signs what they send.
    Byzantine {
        /// Which replicas.
        faulty: Faulty,
        /// What they do.
        mutators: Vec<crate::byzantine::Mutator>,
    },
    /// A disk fault on the targets' data directories (see [`crate::disk`]).
    Disk {
        /// Who.
        target: Target,
        /// What.
        fault: DiskFault,
    },
}

impl Fault {
    /// Whether it touches a single replica, whatever the cluster's size: a kill, pause
    /// or clock fault of one replica or the primary, a partition isolating one.
    pub fn touches_one(&self) -> bool {
        match self {
            Fault::Kill { target }
            | Fault::Pause { target }
            | Fault::Clock { target, .. }
            | Fault::Disk { target, .. } => matches!(target, Target::One | Target::Primary),
            Fault::Partition { topology, .. } => {
                matches!(topology, Topology::One | Topology::Primary)
            }
            Fault::Packet { .. } | Fault::RollingRestart | Fault::Byzantine { .. } => false,
        }
    }

    /// The same fault narrowed to one replica, if it has a target to narrow (see
    /// [`Fault::touches_one`]).
    pub fn narrowed_to_one(&self) -> Option<Fault> {
        if self.family() == Family::PowerLossAll {
            // Its own family: narrowed, it would be another fault.
            return None;
        }
        let mut narrowed = self.clone();
        match &mut narrowed {
            Fault::Kill { target }
            | Fault::Pause { target }
            | Fault::Clock { target, .. }
            | Fault::Disk { target, .. } => {
                *target = Target::One;
            }
            Fault::Partition { topology, .. } => *topology = Topology::One,
            Fault::Packet { .. } | Fault::RollingRestart | Fault::Byzantine { .. } => return None,
        }
        Some(narrowed)
    }

    /// The family the fault belongs to.
    pub fn family(&self) -> Family {
        match self {
            Fault::Partition { .. } => Family::Partition,
            Fault::Packet { .. } => Family::Packet,
            Fault::Kill { .. } | Fault::RollingRestart => Family::Kill,
            Fault::Pause { .. } => Family::Pause,
            Fault::Clock { .. } => Family::Clock,
            Fault::Byzantine { .. } => Family::Byzantine,
            Fault::Disk {
                target: Target::All,
                fault: DiskFault::PowerLoss,
            } => Family::PowerLossAll,
            Fault::Disk { .. } => Family::Disk,
        }
    }

    /// Checks node ids and values against the cluster.
    pub fn validate(&self, n: usize) -> Result<()> {
        match self {
            Fault::Partition { topology, .. } => topology.validate(n),
            Fault::Kill { target } | Fault::Pause { target } => target.validate(n),
            Fault::Clock { target, fault } => {
                target.validate(n)?;
                match fault {
                    ClockFault::Rate { rate } if !(rate.is_finite() && *rate > 0.0) => Err(
                        Error::spec(rate.to_string(), "a clock rate must be a positive number"),
                    ),
                    ClockFault::Strobe { period_ms: 0, .. } => {
                        Err(Error::spec("0", "a strobe period must be at least 1 ms"))
                    }
                    _ => Ok(()),
                }
            }
            Fault::Byzantine { faulty, mutators } => {
                if let Faulty::Nodes(nodes) = faulty {
                    Target::Nodes(nodes.clone()).validate(n)?;
                }
                if faulty.count() == 0 || faulty.count() >= n {
                    return Err(Error::spec(
                        faulty.name(),
                        format!("between 1 and {} replicas can be Byzantine", n - 1),
                    ));
                }
                if mutators.is_empty() {
                    return Err(Error::spec("", "no Byzantine mutator given"));
                }
                Ok(())
            }
            Fault::Disk { target, fault } => {
                target.validate(n)?;
                fault.validate()
            }
            Fault::Packet { .. } | Fault::RollingRestart => Ok(()),
        }
    }

    /// A disk fault that damages more than f replicas' disks (power loss of every
    /// replica, `power-loss-all`, is the one BFT must survive with fsync, so it is not
    /// one): the error that says so, for a run that did not allow it.
    pub fn disk_beyond_f(&self, n: usize) -> Option<String> {
        let Fault::Disk { target, fault } = self else {
            return None;
        };
        let f = (n - 1) / 3;
        let all_power = *target == Target::All && *fault == DiskFault::PowerLoss;
        (target.count(n) > f && !all_power).then(|| {
            format!(
                "a {} on {} may hit at most f = {f} replicas (power loss of every replica \
                 is `power-loss-all`); add --allow-unsafe-disk for a run meant to be caught",
                fault.action(),
                target.name()
            )
        })
    }

    /// A short description, for the progress display.
    pub fn describe(&self) -> String {
        match self {
            Fault::Partition { topology, .. } => format!("partition {}", topology.name()),
            Fault::Packet { spec } => format!("packet {spec}"),
            Fault::Kill { target } => format!("kill {}", target.name()),
            Fault::Pause { target } => format!("pause {}", target.name()),
            Fault::RollingRestart => "rolling restart".into(),
            Fault::Clock { target, fault } => match fault {
                ClockFault::Bump { delta_ms } => {
                    format!("clock bump {delta_ms} ms {}", target.name())
                }
                ClockFault::Strobe {
                    delta_ms,
                    period_ms,
                } => {
                    format!(
                        "clock strobe {delta_ms} ms/{period_ms} ms {}",
                        target.name()
                    )
                }
                ClockFault::Rate { rate } => format!("clock rate {rate} {}", target.name()),
            },
            Fault::Byzantine { faulty, mutators } => {
                let names: Vec<&str> = mutators.iter().map(|m| m.name()).collect();
                format!("byzantine {} ({})", faulty.name(), names.join(","))
            }
            Fault::Disk {
                target: Target::All,
                fault: DiskFault::PowerLoss,
            } => "power loss of every replica".into(),
            Fault::Disk { target, fault } => format!("{} {}", fault.describe(), target.name()),
        }
    }

    /// A random fault of `family`, drawn from `rng`; packet faults use `packet`.
    pub fn random(family: Family, packet: &PacketSpec, rng: &mut ChaCha8Rng) -> Fault {
        let target = |rng: &mut ChaCha8Rng| -> Target {
            Target::NAMED
                .choose(rng)
                .expect("named targets")
                .parse()
                .expect("named targets parse")
        };
        match family {
            Family::Partition => Fault::Partition {
                topology: Topology::NAMED
                    .choose(rng)
                    .expect("named topologies")
                    .parse()
                    .expect("named topologies parse"),
                clients: ClientSide::All,
            },
            Family::Packet => Fault::Packet {
                spec: packet.clone(),
            },
            Family::Kill => {
                if rng.gen_ratio(1, 6) {
                    Fault::RollingRestart
                } else {
                    Fault::Kill {
                        target: target(rng),
                    }
                }
            }
            Family::Pause => Fault::Pause {
                target: target(rng),
            },
            Family::Clock => {
                let sign = if rng.gen_bool(0.5) { 1 } else { -1 };
                let fault = match rng.gen_range(0..3) {
                    0 => ClockFault::Bump {
                        delta_ms: sign * rng.gen_range(100..=10_000),
                    },
                    1 => ClockFault::Strobe {
                        delta_ms: sign * rng.gen_range(200..=2_000),
                        period_ms: rng.gen_range(10..=200),
                    },
                    _ => ClockFault::Rate {
                        rate: [0.25, 0.5, 2.0, 4.0][rng.gen_range(0..4)],
                    },
                };
                let target = match rng.gen_range(0..3) {
                    0 => Target::One,
                    1 => Target::Minority,
                    _ => Target::All,
                };
                Fault::Clock { target, fault }
            }
            Family::Byzantine => Fault::Byzantine {
                faulty: Faulty::Random(1),
                mutators: crate::byzantine::Mutator::ALL.to_vec(),
            },
            Family::Disk => {
                let target = if rng.gen_bool(0.5) {
                    Target::One
                } else {
                    Target::Primary
                };
                let file = *DiskFile::ALL.choose(rng).expect("files");
                let fault = match rng.gen_range(0..4) {
                    0 => DiskFault::PowerLoss,
                    1 => DiskFault::TornWrite {
                        file: DiskFile::Wal,
                        keep_bytes: rng.gen_range(1..=64),
                    },
                    2 => DiskFault::Corrupt {
                        file,
                        mode: *CorruptMode::ALL.choose(rng).expect("modes"),
                        offset: None,
                        len: rng.gen_range(1..=16),
                    },
                    _ => DiskFault::ReadError { file },
                };
                Fault::Disk { target, fault }
            }
            Family::PowerLossAll => Fault::Disk {
                target: Target::All,
                fault: DiskFault::PowerLoss,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn nemesis_lists_parse() {
        assert_eq!(Family::parse_list("none").unwrap(), vec![]);
        assert_eq!(Family::parse_list("all").unwrap(), Family::BENIGN.to_vec());
        assert_eq!(
            Family::parse_list("all,byzantine").unwrap(),
            Family::ALL[..6].to_vec()
        );
        assert_eq!(
            Family::parse_list("power-loss-all").unwrap(),
            vec![Family::PowerLossAll]
        );
        assert_eq!(
            Family::parse_list("kill,partition,kill").unwrap(),
            vec![Family::Partition, Family::Kill]
        );
        let e = Family::parse_list("partition,byzantium")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("byzantium") && e.contains("unknown fault"),
            "{e}"
        );
    }

    #[test]
    fn targets_resolve_to_the_right_number_of_nodes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(Target::Primary.resolve(4, 5, &mut rng), vec![1]);
        assert_eq!(Target::Minority.resolve(4, 0, &mut rng).len(), 1);
        assert_eq!(Target::Majority.resolve(4, 0, &mut rng).len(), 3);
        assert_eq!(Target::All.resolve(7, 0, &mut rng).len(), 7);
        assert!(Target::Nodes(vec![4]).validate(4).is_err());
    }

    #[test]
    fn disk_faults_hit_at_most_f_replicas_but_power_loss_may_hit_all() {
        let disk = |target, fault| Fault::Disk { target, fault };
        let all = disk(Target::All, DiskFault::PowerLoss);
        all.validate(4).unwrap();
        assert_eq!(all.family(), Family::PowerLossAll);
        disk(Target::One, DiskFault::PowerLoss).validate(4).unwrap();
        let corrupt = DiskFault::Corrupt {
            file: DiskFile::Wal,
            mode: CorruptMode::Zero,
            offset: None,
            len: 4,
        };
        assert_eq!(disk(Target::One, corrupt.clone()).family(), Family::Disk);
        let e = disk(Target::Nodes(vec![0, 1]), corrupt)
            .disk_beyond_f(4)
            .expect("two of four replicas is more than f = 1");
        assert!(e.contains("at most f = 1"), "{e}");
        assert!(disk(Target::Majority, DiskFault::PowerLoss)
            .disk_beyond_f(4)
            .is_some());
        assert!(all.disk_beyond_f(4).is_none());
    }

    #[test]
    fn random_faults_follow_the_seed_and_stay_valid() {
        let spec = PacketSpec::default_faults();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|i| Fault::random(Family::ALL[i % Family::ALL.len()], &spec, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
        for f in draw(9) {
            f.validate(4).unwrap();
        }
    }
}

#[cfg(test)]
mod disk_bound_tests {
    use super::*;

    #[test]
    fn disk_faults_beyond_f_are_named_unless_they_are_power_loss_of_every_replica() {
        let disk = |target, fault| Fault::Disk { target, fault };
        assert!(disk(Target::Nodes(vec![2]), DiskFault::PowerLoss)
            .disk_beyond_f(4)
            .is_none());
        assert!(disk(Target::All, DiskFault::PowerLoss)
            .disk_beyond_f(4)
            .is_none());
        let two = disk(Target::Nodes(vec![0, 1]), DiskFault::PowerLoss);
        let e = two
            .disk_beyond_f(4)
            .expect("two of four is more than f = 1");
        assert!(
            e.contains("at most f = 1") && e.contains("--allow-unsafe-disk"),
            "{e}"
        );
        assert!(
            two.validate(4).is_ok(),
            "validation leaves the bound to the plan"
        );
        assert!(two.disk_beyond_f(7).is_none(), "f = 2 allows two");
    }
}
