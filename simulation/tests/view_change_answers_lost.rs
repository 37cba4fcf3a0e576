//! A case `harness explore` found against the correct build (seed 22, 5-minute
//! search): in a one-way partition replica 3 times out alone and asks for view 1; the
//! others move to view 1 too and answer its VIEW-CHANGE with their NEW-VIEW, but the
//! partition eats the answers. Each replica answered a sender's VIEW-CHANGE for a view
//! at most three times, so once the partition healed nobody answered again: replica
//! 3 re-sent its VIEW-CHANGE every 300 ms for good, at seq 93 while the others were
//! at 171 (convergence unknown). Fixed in the replica: after those answers, the
//! NEW-VIEW alone is sent again, at most once per retransmission interval.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
fn a_view_changer_whose_new_view_answers_were_lost_is_answered_again() {
    let text = include_str!("data/view-change-answers-lost-in-a-one-way-partition.json");
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
