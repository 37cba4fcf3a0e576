//! A case `harness explore` found against the correct build (seed 11, searching for
//! commit-quorum-2f, which it did not need): replica 3 is Byzantine for 3 s and sends
//! CHECKPOINTs with a wrong digest, then turns correct and sends the right ones.
//! Replicas 0 and 2 keep its first, conflicting vote for seq 112; replica 1 reached
//! 112 by state transfer and never sent a CHECKPOINT of its own there. So 0 and 2 had
//! two matching votes of the three they need, their window stayed at (80, 112], every
//! PRE-PREPARE above 112 was refused, and the cluster never made progress again (the
//! final reads timed out). Fixed in the replica: a replica that installs a state by
//! state transfer sends its own CHECKPOINT for it.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
fn a_faulty_replica_s_conflicting_checkpoint_vote_does_not_freeze_the_window() {
    let text = include_str!("data/faulty-checkpoint-vote-blocks-the-window.json");
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
