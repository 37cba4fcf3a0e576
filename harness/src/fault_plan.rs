//! The fault schedule a resolved run configuration plays: a scenario, a schedule file
//! or the seeded schedule of the `--nemesis` families, plus the faults that last the
//! whole workload (`--packet`, `--byzantine`).

use crate::run_config::RunConfig;
use anyhow::{bail, Context, Result};
use nemesis::{Family, Fault, Faulty, Mutator, PacketSpec, Schedule, Window};

impl RunConfig {
    /// The fault schedule this run plays: a scenario, a schedule file, or the seeded
    /// schedule of the `--nemesis` families; plus `--packet` faults for the whole
    /// workload when `packet` is not among the families.
    pub(crate) fn schedule(&self) -> Result<Schedule> {
        let families = Family::parse_list(self.nemesis())?;
        let packet = match &self.packet {
            Some(spec) => Some(spec.parse::<PacketSpec>()?),
            None => None,
        };
        let time_limit_ms = self.time_limit * 1000;
        let sources = [
            !families.is_empty(),
            self.nemesis_schedule.is_some(),
            self.scenario.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            bail!("give only one of --nemesis, --nemesis-schedule and --scenario");
        }
        let mut schedule = if let Some(name) = &self.scenario {
            Schedule::scenario(name)?.0
        } else if let Some(path) = &self.nemesis_schedule {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read schedule file {}", path.display()))?;
            Schedule::from_toml(&text, time_limit_ms)
                .with_context(|| format!("schedule file {}", path.display()))?
        } else {
            let spec = packet.clone().unwrap_or_else(PacketSpec::default_faults);
            Schedule::generate(
                &families,
                self.nemesis_interval * 1000,
                time_limit_ms,
                &spec,
                self.seed(),
            )
        };
        let byzantine = self.byzantine_fault()?;
        for w in &mut schedule.windows {
            if let (Fault::Byzantine { .. }, Some(b)) = (&w.fault, &byzantine) {
                w.fault = b.clone();
            }
        }
        if let Some(b) = byzantine {
            let scheduled = families.contains(&Family::Byzantine)
                || schedule
                    .windows
                    .iter()
                    .any(|w| w.fault.family() == Family::Byzantine);
            if !scheduled {
                schedule.windows.insert(
                    0,
                    Window {
                        start_ms: 0,
                        stop_ms: time_limit_ms,
                        fault: b,
                    },
                );
            }
        }
        if let Some(spec) = packet {
            if !families.contains(&Family::Packet) {
                schedule.windows.insert(
                    0,
                    Window {
                        start_ms: 0,
                        stop_ms: time_limit_ms,
                        fault: nemesis::Fault::Packet { spec },
                    },
                );
            }
        }
        Ok(schedule)
    }

    /// The Byzantine fault the flags describe (`--byzantine`, `--byzantine-replicas`,
    /// `--byzantine-mutators`), if any replica is to be Byzantine; with `byzantine` in
    /// `--nemesis` and no count, one replica chosen by the seed.
    fn byzantine_fault(&self) -> Result<Option<Fault>> {
        let mutators = Mutator::parse_list(&self.byzantine_mutators)?;
        let faulty = match (&self.byzantine_replicas, self.byzantine) {
            (Some(list), _) => Faulty::parse_list(list)?,
            (None, 0) => {
                let asked = Family::parse_list(self.nemesis())?.contains(&Family::Byzantine);
                if !asked {
                    return Ok(None);
                }
                Faulty::Random(1)
            }
            (None, k) => Faulty::Random(k),
        };
        Ok(Some(Fault::Byzantine { faulty, mutators }))
    }
}
