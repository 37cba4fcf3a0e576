//! A case `harness explore` found against the correct build (seed 21, 5-minute
//! search), shrunk to one window: every CHECKPOINT is dropped for 0.65 s. The
//! checkpoints at 224 and 240 never became stable anywhere, the window (208, 240]
//! filled up, and nothing was ever sent again: a replica re-sent its own unstable
//! CHECKPOINTs only while a slot of its log was stuck or it was behind, and with a
//! full window there is no slot to be stuck. View changes came and went, each from
//! stable checkpoint 208, and the final reads timed out. Fixed in the replica: while
//! execution stands still, a replica re-sends its CHECKPOINTs that are not stable yet.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
fn lost_checkpoints_with_a_full_window_are_sent_again() {
    let text = include_str!("data/lost-checkpoints-with-a-full-window.json");
    let case = Case::from_json(text).unwrap();
    let report = simulate(case.config().unwrap()).unwrap();
    for oracle in ["liveness", "convergence"] {
        let o = report.oracle(oracle).unwrap();
        assert_eq!(
            o.verdict,
            Verdict::Valid,
            "{oracle}: {} {:?}; last executed {:?}",
            o.summary,
            o.evidence,
            report.last_executed
        );
    }
}
