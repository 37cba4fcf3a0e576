//! A case `harness explore` found against the correct build (seed 7, 10-minute
//! search): NEW-VIEWs to replica 1 are dropped for 2.4 s, so it stays behind and asks
//! alone for a later view; the others answer its first VIEW-CHANGE with their stable
//! checkpoint's proof, but that answer is lost in a partition, and a re-sent
//! VIEW-CHANGE from the same sender for the same view was dropped before it could be
//! answered again. Replica 1 stayed at seq 128 while 176 was stable elsewhere
//! (convergence unknown). Fixed in the replica: a lone VIEW-CHANGE behind our stable
//! checkpoint is answered with the proof each time it comes, at most once per
//! retransmission interval.

use checker::Verdict;
use simulation::{simulate, Case};

#[test]
fn a_lone_view_changer_whose_checkpoint_proof_was_lost_gets_it_again() {
    let text = include_str!("data/lone-view-changer-whose-proof-was-lost.json");
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
