//! The self-test's catalogue (`harness selftest`): every seeded bug, and the scenario
//! that exposes it fastest. A scenario is a set of `harness run` settings (the keys
//! of a run's TOML config) plus, where it needs one, a fault timeline; the same
//! scenarios run against the correct build, which must pass them all.
//!
//! Nothing here tells the harness which bug is on: a bug counts as detected only if
//! the run's own oracles (linearizability, agreement, validity, exactly-once,
//! crashes, liveness, availability, convergence) fail it. The availability bound is
//! the derived one ((2^(f+2) - 1) T + 5 s, T as backed off when a stretch begins), so a slow machine does not fail the
//! correct build.

use replica::bugs::{Bug, ClientBug};
use toml::Table;

/// One planted bug: in the replicas or in the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeededBug {
    /// A replica bug (`--replica-bug`).
    Replica(Bug),
    /// A client bug (`--client-bug`).
    Client(ClientBug),
}

impl SeededBug {
    /// Every seeded bug, replica bugs first.
    pub(crate) fn all() -> Vec<SeededBug> {
        Bug::ALL
            .into_iter()
            .map(SeededBug::Replica)
            .chain(ClientBug::ALL.into_iter().map(SeededBug::Client))
            .collect()
    }

    /// Its name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SeededBug::Replica(b) => b.name(),
            SeededBug::Client(b) => b.name(),
        }
    }

    /// The bug called `name`.
    pub(crate) fn parse(name: &str) -> Result<SeededBug, String> {
        SeededBug::all()
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = SeededBug::all().into_iter().map(SeededBug::name).collect();
                format!("unknown bug {name:?}; known: {}", known.join(", "))
            })
    }

    /// The run key that switches it on.
    pub(crate) fn run_key(self) -> (&'static str, &'static str) {
        match self {
            SeededBug::Replica(b) => ("replica_bug", b.name()),
            SeededBug::Client(b) => ("client_bug", b.name()),
        }
    }

    /// The scenario most likely to expose it.
    pub(crate) fn scenario(self) -> Scenario {
        use SeededBug::{Client, Replica};
        match self {
            Replica(Bug::NoDigestCheck | Bug::PrepareQuorum | Bug::NoPrePrepare) => {
                Scenario::Equivocation
            }
            Replica(Bug::AcceptSecondPrePrepare) => Scenario::Twins,
            Replica(Bug::CommitQuorum2f | Bug::ExecuteOnPrepared | Bug::DropPreparedCerts) => {
                Scenario::StarvedBackups
            }
            Replica(Bug::LostOnRestart) => Scenario::CrashRestart,
            Replica(Bug::NoClientDedupe) => Scenario::ClientReplay,
            Replica(Bug::DivergeState) => Scenario::QuietCas,
            Replica(Bug::AckBeforeFsync) => Scenario::PowerLoss,
            Replica(Bug::TrustWal) => Scenario::BitRot,
            Client(ClientBug::AcceptFirstReply) => Scenario::LyingReplica,
        }
    }
}

/// The self-test's scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// Replica 0 is a Byzantine primary that equivocates (the real or the null batch
    /// to each backup, by the seed) and double-votes, replica links drop and delay
    /// some messages, and the current primary is isolated every 3 s (with a 500 ms
    /// view-change timeout), so views come round to replica 0 again and again.
    Equivocation,
    /// As `Equivocation`, but the Byzantine primary sends every backup both batches
    /// for one sequence number, the real and the null one, in an order the seed picks
    /// per backup (a primary and its twin).
    Twins,
    /// Backups 1 and 2 are starved of PREPAREs and COMMITs (a selective omission on
    /// the links into them) while replica 3 is Byzantine and leaves every other
    /// prepared certificate out of its VIEW-CHANGEs (`amnesia`);
    /// half a second later the primary is isolated (the view-change timeout is 2 s, so
    /// the view changes without it), before anything reaches 1 and 2. Only a replica
    /// that executes on less than a commit certificate can have executed meanwhile,
    /// and the new view cannot know it. The cycle repeats every 10 s.
    StarvedBackups,
    /// The primary is isolated and, while it is, every replica is killed and restarted
    /// together: the view change happens among replicas that all restarted, with
    /// nothing but what they persisted. The cycle repeats every 10 s.
    CrashRestart,
    /// Client links replay earlier requests and duplicate others.
    ClientReplay,
    /// Replica 1 is Byzantine and lies in its replies to clients.
    LyingReplica,
    /// No fault at all, compare-and-sets on a few keys: a replica whose state drifts
    /// while its replies stay right is seen only when the replicas' states are
    /// compared at the end (the convergence oracle).
    QuietCas,
    /// Appends at 50/s with `--fsync always`, and every 4 s a power loss of every
    /// replica (the disk-fault layer drops whatever was not fsynced): an acknowledged
    /// append that did not survive is missing from later reads (linearizability).
    /// Needs FUSE.
    PowerLoss,
    /// At 4 s replica 3 is killed and the lowest bit of the first digit of the digest
    /// of its executed history's first line flipped at rest (still well-formed, but the
    /// line's checksum fails); restarted at 6 s. A replica that trusts its files reports
    /// another batch at seq 1 than the others (agreement); a correct one refuses to
    /// start and is set aside. Needs FUSE.
    BitRot,
}

/// Settings every self-test run shares.
const COMMON: &str = r#"
workload = "register"
keys = 5
concurrency = 8
rate = 200.0
fsync = "never"
recovery_time = 5
stop_on_violation = true
progress = "none"
"#;

/// The settings of the Byzantine-primary scenarios besides their mutators.
const BYZANTINE_PRIMARY: &str = r#"
byzantine_replicas = "0"
packet = "drop=0.05,delay=10ms~10ms@0.5,links=replicas"
view_change_timeout_ms = 500
"#;

impl Scenario {
    /// Every scenario.
    #[cfg(test)]
    pub(crate) const ALL: [Scenario; 9] = [
        Scenario::Equivocation,
        Scenario::Twins,
        Scenario::StarvedBackups,
        Scenario::CrashRestart,
        Scenario::ClientReplay,
        Scenario::LyingReplica,
        Scenario::QuietCas,
        Scenario::PowerLoss,
        Scenario::BitRot,
    ];

    /// Its name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Equivocation => "equivocation",
            Scenario::Twins => "twins",
            Scenario::StarvedBackups => "starved-backups",
            Scenario::CrashRestart => "crash-restart",
            Scenario::ClientReplay => "client-replay",
            Scenario::LyingReplica => "lying-replica",
            Scenario::QuietCas => "quiet-cas",
            Scenario::PowerLoss => "power-loss",
            Scenario::BitRot => "bit-rot",
        }
    }

    /// The run settings of this scenario, without its schedule file (see
    /// [`Scenario::schedule`]).
    pub(crate) fn settings(self) -> Table {
        let extra = match self {
            Scenario::Equivocation => {
                format!("byzantine_mutators = \"equivocate,double-vote\"\n{BYZANTINE_PRIMARY}")
            }
            Scenario::Twins => {
                format!("byzantine_mutators = \"twin,double-vote\"\n{BYZANTINE_PRIMARY}")
            }
            Scenario::StarvedBackups => "view_change_timeout_ms = 2000".to_string(),
            Scenario::CrashRestart => String::new(),
            Scenario::ClientReplay => {
                r#"packet = "replay=0.3,duplicate=0.2,links=clients""#.to_string()
            }
            Scenario::LyingReplica => {
                "byzantine_replicas = \"1\"\nbyzantine_mutators = \"lie\"".to_string()
            }
            Scenario::QuietCas => "workload = \"kv\"\nnemesis = \"none\"".to_string(),
            // A modest rate on ten keys: the append checker must be able to prove the
            // correct build's history (with an info op per request a power loss cut)
            // within its budget.
            Scenario::PowerLoss => {
                "workload = \"append\"\nkeys = 10\nrate = 50.0\nfsync = \"always\"".to_string()
            }
            Scenario::BitRot => "fsync = \"always\"".to_string(),
        };
        let mut table: Table = toml::from_str(COMMON).expect("the common settings parse");
        table.extend(toml::from_str::<Table>(&extra).expect("a scenario's settings parse"));
        table
    }

    /// The fault timeline (a `--nemesis-schedule` file) of a `time_limit`-second run,
    /// if the scenario has one. Faults that end early leave the rest of the run quiet,
    /// where a cluster that stopped making progress fails the availability oracle.
    pub(crate) fn schedule(self, time_limit: u64) -> Option<String> {
        let mut out = String::new();
        match self {
            Scenario::Equivocation | Scenario::Twins => {
                // Isolate whoever leads for 2 s, every 3 s: views come round to the
                // Byzantine replica 0 again and again.
                let mut at = 2;
                while at + 2 < time_limit {
                    out.push_str(&format!(
                        "[[fault]]\nat = {at}\nheal = {}\nkind = \"partition\"\npartition = \"primary\"\n\n",
                        at + 2
                    ));
                    at += 3;
                }
            }
            Scenario::StarvedBackups => {
                // The cycle comes round every 10 s while a whole one fits: the
                // starvation's onset, when COMMITs in flight reach some replicas and
                // not others, is the moment the bug needs, and load can shift it.
                let mut at = 2;
                while at + 7 <= time_limit {
                    out.push_str(&format!(
                        "[[fault]]\nat = {at}\nheal = {}\nkind = \"byzantine\"\nnodes = [3]\n\
                         mutators = \"amnesia\"\n\n\
                         [[fault]]\nat = {}\nheal = {}\nkind = \"packet\"\n\
                         packet = \"drop=1,kinds=prepare+commit,to=1+2\"\n\n\
                         [[fault]]\nat = {}.5\nheal = {}\nkind = \"partition\"\npartition = \"primary\"\n\n",
                        at + 7,
                        at + 1,
                        at + 6,
                        at + 1,
                        at + 6
                    ));
                    at += 10;
                }
            }
            Scenario::CrashRestart => {
                // The cycle comes round every 10 s while a whole one fits: each is
                // another chance for a restart to forget what a quorum committed.
                let mut at = 3;
                while at + 6 <= time_limit {
                    out.push_str(&format!(
                        "[[fault]]\nat = {at}\nheal = {}\nkind = \"partition\"\npartition = \"primary\"\n\n\
                         [[fault]]\nat = {}.5\nheal = {}.5\nkind = \"kill\"\ntarget = \"all\"\n\n",
                        at + 6,
                        at,
                        at + 1
                    ));
                    at += 10;
                }
            }
            Scenario::PowerLoss => {
                // Down for 1.5 s every 4 s; the last power loss leaves quiet time.
                let mut at = 2;
                while at + 4 <= time_limit {
                    out.push_str(&format!(
                        "[[fault]]\nat = {at}\nheal = {}.5\nkind = \"power-loss-all\"\n\n",
                        at + 1
                    ));
                    at += 4;
                }
            }
            Scenario::BitRot => {
                // `<16 hex> {"seq":1,"digest":"` is 36 bytes: byte 36 is the digest's
                // first digit.
                out.push_str(
                    "[[fault]]\nat = 4\nheal = 6\nkind = \"disk\"\nnodes = [3]\n\
                     action = \"corrupt\"\nfile = \"history\"\nmode = \"flip-low-bit\"\n\
                     offset = 36\nlen = 1\n",
                );
            }
            Scenario::ClientReplay | Scenario::LyingReplica | Scenario::QuietCas => return None,
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunConfig;

    #[test]
    fn every_bug_has_a_scenario_and_every_scenario_resolves() {
        assert_eq!(
            SeededBug::all().len(),
            Bug::ALL.len() + ClientBug::ALL.len()
        );
        for bug in SeededBug::all() {
            assert_eq!(SeededBug::parse(bug.name()), Ok(bug));
        }
        let dir = tempfile::tempdir().unwrap();
        for scenario in Scenario::ALL {
            let mut table = scenario.settings();
            if let Some(text) = scenario.schedule(60) {
                let path = dir.path().join(format!("{}.toml", scenario.name()));
                std::fs::write(&path, text).unwrap();
                table.insert(
                    "nemesis_schedule".into(),
                    toml::Value::String(path.display().to_string()),
                );
            }
            table.insert("time_limit".into(), toml::Value::Integer(60));
            table.insert("seed".into(), toml::Value::Integer(1));
            let text = toml::to_string(&table).unwrap();
            if let Err(e) = RunConfig::from_table(&table) {
                panic!(
                    "scenario {} does not resolve: {e:#}\n{text}",
                    scenario.name()
                );
            }
        }
    }
}
