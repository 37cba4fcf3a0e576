//! A case `harness explore` found against the correct build (seed 2, 5-minute search):
//! replica 1 starts a view change of its own, misses the last checkpoint, and once the
//! clients stop nothing brings it back (no new checkpoint, no NEW-VIEW): it stays at
//! seq 241 while the others are at 265, even with a minute to settle. Convergence can
//! only say unknown. Ignored until the replica catches up from a quiet cluster; run
//! with `cargo test --release -p simulation --test left_behind -- --ignored`.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
#[ignore = "known: a replica left behind after a lone view change never catches up in a quiet cluster"]
fn a_replica_left_behind_after_a_lone_view_change_catches_up() {
    let text = include_str!("data/left-behind-after-lone-view-change.json");
    let case = Case::from_json(text).unwrap();
    let mut config = case.config().unwrap();
    config.settle_ms = 60_000;
    let report = simulate(config).unwrap();
    let convergence = report.oracle("convergence").unwrap();
    assert_eq!(
        convergence.verdict,
        Verdict::Valid,
        "{}; last executed {:?}",
        convergence.summary,
        report.last_executed
    );
}
