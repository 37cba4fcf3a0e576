//! Liveness bugs `harness explore` found in the correct build, each fixed in the replica:
//! the explored case replays in the simulator, and the cluster must answer its final
//! reads and converge. (`left_behind.rs` holds the first one, with a longer settle.)

use checker::Verdict;
use simulation::{simulate, Case};

/// Replays the stored case `text` and checks liveness and convergence.
fn replays_live_and_converged(text: &str) {
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

/// A case `harness explore` found against the correct build (seed 11, searching for
/// commit-quorum-2f, which it did not need): replica 3 is Byzantine for 3 s and sends
/// CHECKPOINTs with a wrong digest, then turns correct and sends the right ones.
/// Replicas 0 and 2 keep its first, conflicting vote for seq 112; replica 1 reached
/// 112 by state transfer and never sent a CHECKPOINT of its own there. So 0 and 2 had
/// two matching votes of the three they need, their window stayed at (80, 112], every
/// PRE-PREPARE above 112 was refused, and the cluster never made progress again (the
/// final reads timed out). Fixed in the replica: a replica that installs a state by
/// state transfer sends its own CHECKPOINT for it.
#[test]
fn a_faulty_replica_s_conflicting_checkpoint_vote_does_not_freeze_the_window() {
    replays_live_and_converged(include_str!(
        "data/faulty-checkpoint-vote-blocks-the-window.json"
    ));
}

/// A case `harness explore` found against the correct build (seed 21, 5-minute
/// search), shrunk to one window: every CHECKPOINT is dropped for 0.65 s. The
/// checkpoints at 224 and 240 never became stable anywhere, the window (208, 240]
/// filled up, and nothing was ever sent again: a replica re-sent its own unstable
/// CHECKPOINTs only while a slot of its log was stuck or it was behind, and with a
/// full window there is no slot to be stuck. View changes came and went, each from
/// stable checkpoint 208, and the final reads timed out. Fixed in the replica: while
/// execution stands still, a replica re-sends its CHECKPOINTs that are not stable yet.
#[test]
fn lost_checkpoints_with_a_full_window_are_sent_again() {
    replays_live_and_converged(include_str!(
        "data/lost-checkpoints-with-a-full-window.json"
    ));
}

/// A case `harness explore` found against the correct build (seed 22, 5-minute
/// search): in a one-way partition replica 3 times out alone and asks for view 1; the
/// others move to view 1 too and answer its VIEW-CHANGE with their NEW-VIEW, but the
/// partition eats the answers. Each replica answered a sender's VIEW-CHANGE for a view
/// at most three times, so once the partition healed nobody answered again: replica
/// 3 re-sent its VIEW-CHANGE every 300 ms for good, at seq 93 while the others were
/// at 171 (convergence unknown). Fixed in the replica: after those answers, the
/// NEW-VIEW alone is sent again, at most once per retransmission interval.
#[test]
fn a_view_changer_whose_new_view_answers_were_lost_is_answered_again() {
    replays_live_and_converged(include_str!(
        "data/view-change-answers-lost-in-a-one-way-partition.json"
    ));
}

/// A case `harness explore` found against the correct build (seed 7, 10-minute
/// search): NEW-VIEWs to replica 1 are dropped for 2.4 s, so it stays behind and asks
/// alone for a later view; the others answer its first VIEW-CHANGE with their stable
/// checkpoint's proof, but that answer is lost in a partition, and a re-sent
/// VIEW-CHANGE from the same sender for the same view was dropped before it could be
/// answered again. Replica 1 stayed at seq 128 while 176 was stable elsewhere
/// (convergence unknown). Fixed in the replica: a lone VIEW-CHANGE behind our stable
/// checkpoint is answered with the proof each time it comes, at most once per
/// retransmission interval.
#[test]
fn a_lone_view_changer_whose_checkpoint_proof_was_lost_gets_it_again() {
    replays_live_and_converged(include_str!(
        "data/lone-view-changer-whose-proof-was-lost.json"
    ));
}
