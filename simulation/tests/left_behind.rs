//! A case `harness explore` found against the correct build (seed 2, 5-minute search):
//! replica 1 starts a view change of its own and misses the last checkpoint; once the
//! clients stopped nothing brought it back (no new checkpoint, no NEW-VIEW, and an
//! inactive replica sends no STATUS): it stayed at seq 241 while the others were at
//! 265, even with a minute to settle. Fixed in the replica: a replica that stays in
//! its view answers a VIEW-CHANGE whose stable checkpoint is below its own with its
//! stable checkpoint's proof, and the lone replica fetches the state.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
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
