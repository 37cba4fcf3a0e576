//! Writing a [`Schedule`] as a `--nemesis-schedule` TOML file: the inverse of
//! [`Schedule::from_toml`], so that a schedule drawn or shrunk by a program (the
//! simulator's `harness explore`) can be run against real processes as it is.
//!
//! Times are written in seconds with millisecond precision, the heal of every window
//! explicitly; `Schedule::from_toml(&s.to_toml(), t)` gives `s` back for every valid
//! schedule.

use crate::disk::DiskFault;
use crate::fault::{ClockFault, Fault, Faulty, Target};
use crate::partition::{ClientSide, Topology};
use crate::schedule::Schedule;
use std::fmt::Write;

impl Schedule {
    /// The schedule in the `--nemesis-schedule` TOML format (one `[[fault]]` table per
    /// window, in order).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.windows.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str("[[fault]]\n");
            line(&mut out, "at", seconds(w.start_ms));
            line(&mut out, "heal", seconds(w.stop_ms));
            fault_lines(&mut out, &w.fault);
        }
        out
    }
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key} = {value}");
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Milliseconds as seconds, written so that `(s * 1000).round()` gives them back.
fn seconds(ms: u64) -> String {
    let s = ms as f64 / 1000.0;
    let text = format!("{s}");
    if text.contains('.') || text.contains('e') {
        text
    } else {
        format!("{text}.0")
    }
}

fn nodes(ids: &[usize]) -> String {
    let ids: Vec<String> = ids.iter().map(usize::to_string).collect();
    format!("[{}]", ids.join(", "))
}

fn target_line(out: &mut String, target: &Target) {
    match target {
        Target::Nodes(ids) => line(out, "nodes", nodes(ids)),
        named => line(out, "target", quoted(&named.name())),
    }
}

fn fault_lines(out: &mut String, fault: &Fault) {
    match fault {
        Fault::Partition { topology, clients } => {
            line(out, "kind", quoted("partition"));
            match topology {
                Topology::Nodes(ids) => line(out, "nodes", nodes(ids)),
                named => line(out, "partition", quoted(&named.name())),
            }
            if *clients == ClientSide::Isolated {
                line(out, "clients", quoted("isolated"));
            }
        }
        Fault::Packet { spec } => {
            line(out, "kind", quoted("packet"));
            line(out, "packet", quoted(&spec.to_string()));
        }
        Fault::Kill { target } => {
            line(out, "kind", quoted("kill"));
            target_line(out, target);
        }
        Fault::Pause { target } => {
            line(out, "kind", quoted("pause"));
            target_line(out, target);
        }
        Fault::RollingRestart => line(out, "kind", quoted("rolling-restart")),
        Fault::Clock { target, fault } => {
            line(out, "kind", quoted("clock"));
            target_line(out, target);
            match fault {
                ClockFault::Bump { delta_ms } => {
                    line(out, "clock", quoted("bump"));
                    line(out, "delta_ms", delta_ms);
                }
                ClockFault::Strobe {
                    delta_ms,
                    period_ms,
                } => {
                    line(out, "clock", quoted("strobe"));
                    line(out, "delta_ms", delta_ms);
                    line(out, "period_ms", period_ms);
                }
                ClockFault::Rate { rate } => {
                    line(out, "clock", quoted("rate"));
                    line(out, "rate", format!("{rate:?}"));
                }
            }
        }
        Fault::Byzantine { faulty, mutators } => {
            line(out, "kind", quoted("byzantine"));
            match faulty {
                Faulty::Primary => line(out, "target", quoted("primary")),
                Faulty::Nodes(ids) => line(out, "nodes", nodes(ids)),
                Faulty::Random(k) => line(out, "count", k),
            }
            let names: Vec<&str> = mutators.iter().map(|m| m.name()).collect();
            line(out, "mutators", quoted(&names.join(",")));
        }
        Fault::Disk {
            target: Target::All,
            fault: DiskFault::PowerLoss,
        } => line(out, "kind", quoted("power-loss-all")),
        Fault::Disk { target, fault } => {
            line(out, "kind", quoted("disk"));
            target_line(out, target);
            line(out, "action", quoted(fault.action()));
            match fault {
                DiskFault::PowerLoss => {}
                DiskFault::TornWrite { file, keep_bytes } => {
                    line(out, "file", quoted(file.name()));
                    line(out, "keep_bytes", keep_bytes);
                }
                DiskFault::Corrupt {
                    file,
                    mode,
                    offset,
                    len,
                } => {
                    line(out, "file", quoted(file.name()));
                    line(out, "mode", quoted(mode.name()));
                    if let Some(offset) = offset {
                        line(out, "offset", offset);
                    }
                    line(out, "len", len);
                }
                DiskFault::ReadError { file } => line(out, "file", quoted(file.name())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::byzantine::Mutator;
    use crate::fault::Family;
    use crate::packet::PacketSpec;
    use crate::schedule::Window;

    fn window(start_ms: u64, stop_ms: u64, fault: Fault) -> Window {
        Window {
            start_ms,
            stop_ms,
            fault,
        }
    }

    #[test]
    fn every_kind_of_fault_round_trips_through_toml() {
        let packet: PacketSpec =
            "drop=0.1,duplicate=0.05,delay=20ms~10ms@0.3,to=1+2,kinds=prepare+commit"
                .parse()
                .unwrap();
        let schedule = Schedule {
            windows: vec![
                window(
                    1,
                    1_234,
                    Fault::Partition {
                        topology: Topology::MajoritiesRing,
                        clients: ClientSide::Isolated,
                    },
                ),
                window(
                    1_500,
                    2_000,
                    Fault::Partition {
                        topology: Topology::Nodes(vec![0, 2]),
                        clients: ClientSide::All,
                    },
                ),
                window(10, 9_999, Fault::Packet { spec: packet }),
                window(
                    100,
                    200,
                    Fault::Kill {
                        target: Target::Primary,
                    },
                ),
                window(
                    300,
                    400,
                    Fault::Pause {
                        target: Target::Nodes(vec![3]),
                    },
                ),
                window(500, 900, Fault::RollingRestart),
                window(
                    0,
                    50,
                    Fault::Clock {
                        target: Target::One,
                        fault: ClockFault::Bump { delta_ms: -5_000 },
                    },
                ),
                window(
                    60,
                    70,
                    Fault::Clock {
                        target: Target::All,
                        fault: ClockFault::Strobe {
                            delta_ms: 300,
                            period_ms: 7,
                        },
                    },
                ),
                window(
                    80,
                    90,
                    Fault::Clock {
                        target: Target::Majority,
                        fault: ClockFault::Rate { rate: 0.5 },
                    },
                ),
                window(
                    0,
                    3_000,
                    Fault::Byzantine {
                        faulty: Faulty::Nodes(vec![1]),
                        mutators: vec![Mutator::Equivocate, Mutator::Lie],
                    },
                ),
                window(
                    3_000,
                    4_000,
                    Fault::Byzantine {
                        faulty: Faulty::Primary,
                        mutators: vec![Mutator::Amnesia],
                    },
                ),
                window(
                    4_000,
                    5_000,
                    Fault::Byzantine {
                        faulty: Faulty::Random(1),
                        mutators: Mutator::ALL.to_vec(),
                    },
                ),
                window(
                    5_000,
                    5_100,
                    Fault::Disk {
                        target: Target::All,
                        fault: DiskFault::PowerLoss,
                    },
                ),
                window(
                    5_100,
                    5_200,
                    Fault::Disk {
                        target: Target::Nodes(vec![2]),
                        fault: DiskFault::TornWrite {
                            file: crate::disk::DiskFile::History,
                            keep_bytes: 3,
                        },
                    },
                ),
                window(
                    5_200,
                    5_300,
                    Fault::Disk {
                        target: Target::Primary,
                        fault: DiskFault::Corrupt {
                            file: crate::disk::DiskFile::Snapshot,
                            mode: crate::disk::CorruptMode::Truncate,
                            offset: Some(17),
                            len: 2,
                        },
                    },
                ),
                window(
                    5_300,
                    5_400,
                    Fault::Disk {
                        target: Target::One,
                        fault: DiskFault::ReadError {
                            file: crate::disk::DiskFile::Wal,
                        },
                    },
                ),
                window(
                    5_400,
                    5_500,
                    Fault::Disk {
                        target: Target::One,
                        fault: DiskFault::PowerLoss,
                    },
                ),
            ],
        };
        let text = schedule.to_toml();
        let back = Schedule::from_toml(&text, 10_000).unwrap();
        assert_eq!(back, schedule, "{text}");
        assert_eq!(back.families().len(), Family::ALL.len());
    }

    #[test]
    fn an_empty_schedule_is_an_empty_file() {
        assert_eq!(Schedule::none().to_toml(), "");
        assert_eq!(Schedule::from_toml("", 1_000).unwrap(), Schedule::none());
    }
}
