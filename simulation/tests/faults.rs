//! Process faults: a killed replica restarts from what it persisted and catches up; a
//! paused one resumes with what waited for it; clock faults skew and are reset.

use nemesis::{Fault, Schedule, Target, Window};
use simulation::{simulate, SimConfig};

#[test]
fn killed_and_paused_replicas_come_back_and_catch_up() {
    let mut c = SimConfig::new(11);
    c.time_limit_ms = 6_000;
    c.schedule = Schedule {
        windows: vec![
            Window {
                start_ms: 1_000,
                stop_ms: 3_000,
                fault: Fault::Kill {
                    target: Target::Nodes(vec![2]),
                },
            },
            Window {
                start_ms: 3_500,
                stop_ms: 4_500,
                fault: Fault::Pause {
                    target: Target::Nodes(vec![3]),
                },
            },
        ],
    };
    let r = simulate(c).unwrap();
    assert_eq!(r.verdict, checker::Verdict::Valid, "{:#?}", r.oracles);
    let actions: Vec<(String, String)> = r
        .history
        .ops()
        .iter()
        .filter(|o| o.process == checker::Process::Nemesis)
        .map(|o| (o.f.clone(), o.value.to_string()))
        .collect();
    let expect = [
        ("kill", "[2]"),
        ("start", "[2]"),
        ("pause", "[3]"),
        ("resume", "[3]"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect();
    assert_eq!(actions, expect);
    let max = *r.last_executed.iter().max().unwrap();
    assert!(max > 10, "{}", r.summary());
    for (i, &last) in r.last_executed.iter().enumerate() {
        assert!(
            last + 2 >= max,
            "replica {i} is behind at {last} of {max}: {}",
            r.summary()
        );
    }
}

#[test]
fn clock_faults_skew_the_replicas_clocks_and_are_reset() {
    let mut c = SimConfig::new(1);
    c.time_limit_ms = 3_000;
    c.schedule = Schedule::from_toml(
        "[[fault]]\nat = 0.5\nheal = 1\nkind = \"clock\"\ntarget = \"primary\"\nclock = \"bump\"\ndelta_ms = 5000\n\
         [[fault]]\nat = 1.2\nheal = 2\nkind = \"clock\"\nnodes = [1]\nclock = \"strobe\"\ndelta_ms = 2000\nperiod_ms = 50\n\
         [[fault]]\nat = 2.2\nheal = 2.8\nkind = \"clock\"\ntarget = \"all\"\nclock = \"rate\"\nrate = 3",
        c.time_limit_ms,
    )
    .unwrap();
    let r = simulate(c).unwrap();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let actions: Vec<&str> = r
        .history
        .ops()
        .iter()
        .filter(|o| o.process == checker::Process::Nemesis)
        .map(|o| o.f.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "bump-clock",
            "reset-clock",
            "strobe-clock",
            "reset-clock",
            "rate-clock",
            "reset-clock"
        ]
    );
    assert_eq!(r.verdict, checker::Verdict::Valid, "{:#?}", r.oracles);
}

#[test]
fn bad_parameters_are_typed_errors() {
    let mut c = SimConfig::new(1);
    c.rate = 0.0;
    assert!(matches!(
        simulate(c),
        Err(simulation::Error::Invalid { field: "rate", .. })
    ));
    let mut c = SimConfig::new(1);
    c.schedule = Schedule {
        windows: vec![Window {
            start_ms: 1,
            stop_ms: 2,
            fault: Fault::Kill {
                target: Target::Nodes(vec![9]),
            },
        }],
    };
    assert!(matches!(simulate(c), Err(simulation::Error::Schedule(_))));
}

/// Disk faults in the simulator: a power loss of every replica is a kill of every
/// replica (the simulated disk keeps every persisted record, an fsync-always disk);
/// the faults of real files (here a corruption) are skipped, saying why.
#[test]
fn a_power_loss_is_a_kill_and_real_file_faults_are_skipped() {
    let mut c = SimConfig::new(5);
    c.time_limit_ms = 6_000;
    c.schedule = Schedule {
        windows: vec![
            Window {
                start_ms: 1_000,
                stop_ms: 2_000,
                fault: Fault::Disk {
                    target: Target::All,
                    fault: nemesis::DiskFault::PowerLoss,
                },
            },
            Window {
                start_ms: 3_000,
                stop_ms: 4_000,
                fault: Fault::Disk {
                    target: Target::Nodes(vec![1]),
                    fault: nemesis::DiskFault::Corrupt {
                        file: nemesis::DiskFile::Wal,
                        mode: nemesis::CorruptMode::Zero,
                        offset: None,
                        len: 4,
                    },
                },
            },
        ],
    };
    let r = simulate(c).unwrap();
    assert_eq!(r.verdict, checker::Verdict::Valid, "{:#?}", r.oracles);
    let fs: Vec<String> = r
        .history
        .ops()
        .iter()
        .filter(|o| o.process == checker::Process::Nemesis)
        .map(|o| o.f.clone())
        .collect();
    assert_eq!(fs.iter().filter(|f| *f == "kill").count(), 4, "{fs:?}");
    assert_eq!(fs.iter().filter(|f| *f == "start").count(), 4, "{fs:?}");
    let skip = r
        .history
        .ops()
        .iter()
        .find(|o| o.f == "skip")
        .expect("the corruption is skipped");
    assert!(
        skip.value["reason"]
            .as_str()
            .is_some_and(|s| s.contains("does not model corrupt")),
        "{}",
        skip.value
    );
}
