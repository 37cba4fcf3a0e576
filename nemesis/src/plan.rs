//! The fault plan of a run: everything a run's settings say about faults, turned into
//! one validated [`Schedule`], built once before the run starts.
//!
//! The windows come from exactly one source: a named scenario, a schedule file, or the
//! seeded schedule of the `--nemesis` families. Two kinds of fault can also be given
//! for the whole workload: packet faults (`--packet`, when `packet` is not among the
//! families, which would schedule them instead) and Byzantine replicas (`--byzantine`,
//! `--byzantine-replicas`, `--byzantine-mutators`: they fill the schedule's
//! `byzantine` windows, or, if it has none, one window over the whole workload).

use crate::byzantine::Mutator;
use crate::error::{Error, Result};
use crate::fault::{Family, Fault, Faulty};
use crate::packet::PacketSpec;
use crate::schedule::{Schedule, Window};
use std::path::Path;

/// What a run's settings say about faults.
#[derive(Debug, Clone, Default)]
pub struct PlanSpec<'a> {
    /// Fault bound f of the cluster (n = 3f+1).
    pub f: usize,
    /// Seconds of workload.
    pub time_limit_s: u64,
    /// The run seed.
    pub seed: u64,
    /// The seeded nemesis's families (`--nemesis`: a list, `all` or `none`).
    pub families: &'a str,
    /// Seconds of each seeded fault and of each quiet stretch.
    pub interval_s: u64,
    /// A schedule file (TOML), instead of the seeded schedule.
    pub schedule_file: Option<&'a Path>,
    /// A named scenario, instead of the seeded schedule.
    pub scenario: Option<&'a str>,
    /// Packet faults (`--packet`).
    pub packet: Option<&'a str>,
    /// How many replicas are Byzantine, chosen by the seed (0: none unless listed).
    pub byzantine: usize,
    /// Which replicas are Byzantine (`--byzantine-replicas`: ids or `primary`).
    pub byzantine_replicas: Option<&'a str>,
    /// What Byzantine replicas do (`all` or a list of mutators).
    pub byzantine_mutators: &'a str,
    /// Whether more than f Byzantine replicas are allowed.
    pub allow_unsafe_byzantine: bool,
    /// Whether disk faults may damage more than f replicas' disks.
    pub allow_unsafe_disk: bool,
    /// Whether the run has no proxy (network faults cannot run then).
    pub no_proxy: bool,
}

impl PlanSpec<'_> {
    /// Replicas in the cluster.
    fn n(&self) -> usize {
        3 * self.f + 1
    }

    /// The run's fault schedule, validated against the cluster and the time limit.
    pub fn plan(&self) -> Result<Schedule> {
        let schedule = self.windows()?;
        schedule
            .validate(self.n(), self.time_limit_s * 1000)
            .map_err(|e| Error::Plan(format!("the fault schedule cannot run: {e}")))?;
        for w in &schedule.windows {
            if let Some(e) = w.fault.disk_beyond_f(self.n()) {
                if !self.allow_unsafe_disk {
                    return Err(Error::Plan(format!("the fault schedule cannot run: {e}")));
                }
            }
            if let Fault::Byzantine { faulty, .. } = &w.fault {
                if faulty.count() > self.f && !self.allow_unsafe_byzantine {
                    return Err(Error::Plan(format!(
                        "{} Byzantine replicas is more than f = {}: PBFT promises nothing then; \
                         add --allow-unsafe-byzantine for a run meant to be caught",
                        faulty.count(),
                        self.f
                    )));
                }
            }
        }
        if self.no_proxy {
            if let Some(f) = schedule.families().into_iter().find(|f| f.needs_proxy()) {
                return Err(Error::Plan(format!(
                    "{} faults need the proxy: drop --no-proxy (it only exists to measure the proxy)",
                    f.name()
                )));
            }
        }
        Ok(schedule)
    }

    /// The windows, before validation.
    fn windows(&self) -> Result<Schedule> {
        let families = Family::parse_list(self.families)?;
        let packet = self.packet.map(str::parse::<PacketSpec>).transpose()?;
        let time_limit_ms = self.time_limit_s * 1000;
        let sources = [
            !families.is_empty(),
            self.schedule_file.is_some(),
            self.scenario.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(Error::Plan(
                "give only one of --nemesis, --nemesis-schedule and --scenario".into(),
            ));
        }
        let mut schedule = if let Some(name) = self.scenario {
            Schedule::scenario(name)?.0
        } else if let Some(path) = self.schedule_file {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ScheduleFile {
                path: path.to_path_buf(),
                source,
            })?;
            Schedule::from_toml(&text, time_limit_ms).map_err(|e| Error::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?
        } else {
            let spec = packet.clone().unwrap_or_else(PacketSpec::default_faults);
            Schedule::generate(
                &families,
                self.interval_s * 1000,
                time_limit_ms,
                &spec,
                self.seed,
            )
        };
        if let Some(byzantine) = self.byzantine_fault(&families)? {
            let mut scheduled = families.contains(&Family::Byzantine);
            for w in &mut schedule.windows {
                if w.fault.family() == Family::Byzantine {
                    w.fault = byzantine.clone();
                    scheduled = true;
                }
            }
            if !scheduled {
                schedule
                    .windows
                    .insert(0, whole_run(time_limit_ms, byzantine));
            }
        }
        if let Some(spec) = packet {
            if !families.contains(&Family::Packet) {
                schedule
                    .windows
                    .insert(0, whole_run(time_limit_ms, Fault::Packet { spec }));
            }
        }
        Ok(schedule)
    }

    /// The Byzantine fault the settings describe, if any replica is to be Byzantine;
    /// with `byzantine` among the families and no count, one replica chosen by the seed.
    fn byzantine_fault(&self, families: &[Family]) -> Result<Option<Fault>> {
        let mutators = Mutator::parse_list(self.byzantine_mutators)?;
        let faulty = match (self.byzantine_replicas, self.byzantine) {
            (Some(list), _) => Faulty::parse_list(list)?,
            (None, 0) if families.contains(&Family::Byzantine) => Faulty::Random(1),
            (None, 0) => return Ok(None),
            (None, k) => Faulty::Random(k),
        };
        Ok(Some(Fault::Byzantine { faulty, mutators }))
    }
}

/// A window over the whole workload.
fn whole_run(time_limit_ms: u64, fault: Fault) -> Window {
    Window {
        start_ms: 0,
        stop_ms: time_limit_ms,
        fault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(families: &str) -> PlanSpec<'_> {
        PlanSpec {
            f: 1,
            time_limit_s: 60,
            seed: 3,
            families,
            interval_s: 10,
            byzantine_mutators: "all",
            ..PlanSpec::default()
        }
    }

    #[test]
    fn whole_run_packet_and_byzantine_faults_join_the_seeded_windows() {
        let plain = spec("partition,kill").plan().unwrap();
        let with = PlanSpec {
            packet: Some("drop=0.1"),
            byzantine: 1,
            ..spec("partition,kill")
        }
        .plan()
        .unwrap();
        // The seeded windows are the same; the two whole-run faults come first.
        assert_eq!(&with.windows[2..], &plain.windows[..]);
        assert!(matches!(with.windows[0].fault, Fault::Packet { .. }));
        assert!(matches!(with.windows[1].fault, Fault::Byzantine { .. }));
        assert_eq!(with.windows[0].stop_ms, 60_000);
    }

    #[test]
    fn scheduled_byzantine_windows_take_the_flags_replicas_and_mutators() {
        let s = PlanSpec {
            byzantine_replicas: Some("2"),
            byzantine_mutators: "lie",
            ..spec("byzantine")
        }
        .plan()
        .unwrap();
        assert!(!s.windows.is_empty());
        for w in &s.windows {
            assert_eq!(
                w.fault,
                Fault::Byzantine {
                    faulty: Faulty::Nodes(vec![2]),
                    mutators: vec![Mutator::Lie]
                }
            );
        }
    }

    #[test]
    fn plans_that_cannot_run_are_refused_with_the_reason() {
        let e = PlanSpec {
            scenario: Some("isolate-primary"),
            ..spec("partition")
        }
        .plan()
        .unwrap_err()
        .to_string();
        assert!(e.contains("only one of"), "{e}");
        let e = PlanSpec {
            byzantine: 2,
            ..spec("none")
        }
        .plan()
        .unwrap_err()
        .to_string();
        assert!(e.contains("more than f = 1"), "{e}");
        let e = PlanSpec {
            no_proxy: true,
            ..spec("partition")
        }
        .plan()
        .unwrap_err()
        .to_string();
        assert!(e.contains("need the proxy"), "{e}");
        let e = PlanSpec {
            schedule_file: Some(Path::new("/nonexistent/faults.toml")),
            ..spec("none")
        }
        .plan()
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot read schedule file"), "{e}");
    }
}
