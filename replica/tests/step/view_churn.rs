//! View churn: after a NEW-VIEW the batches re-proposed in O execute first. That is
//! no progress of the new view: only a batch its own primary proposed (above max-s)
//! puts the view-change timeout back to T, so a view that executed nothing but O
//! and then times out doubles it, as a view that executed nothing at all does.
//!
//! Found by the harness on a slow machine (debug build under a CPU burner): each view
//! re-executed O, which reset the timeout to T and kept it from doubling; the
//! request the backups waited for needed more than T in every view, so views were
//! installed one after another, each abandoned after T, and it never executed.

use std::collections::BTreeSet;

use rand::Rng;
use replica::messages::{PeerMessage, Seq, View};

use super::net::{params, seed_from_env, write, Envelope, Net, N, TICK_MS, T_MS};

fn view_0_commit(e: &Envelope) -> bool {
    matches!(&e.msg, PeerMessage::Commit(c) if c.body.view == 0)
}

fn new_view(e: &Envelope) -> bool {
    matches!(e.msg, PeerMessage::NewView(_))
}

#[test]
fn reexecuting_o_does_not_reset_the_doubled_view_change_timeout() {
    o_then_a_slow_request(None);
}

/// The same with backup 3 restarted after view 1 executed O: recovery rebuilds which
/// batches count as the view's own from its NEW-VIEW record.
#[test]
fn restarted_backup_still_doubles_the_timeout_after_reexecuting_o() {
    o_then_a_slow_request(Some(3));
}

/// Seq 1 prepares in view 0 but does not commit; view 1 executes it from O, then a new
/// request cannot execute in view 1: backups 2 and 3 must leave view 1 with the
/// timeout doubled. `restart`: a backup restarted (from its WAL) just before.
fn o_then_a_slow_request(restart: Option<usize>) {
    let mut net = Net::new();
    // View 0: seq 1 prepares everywhere, but its COMMITs never arrive.
    net.hold(|e| view_0_commit(e) || new_view(e));
    let first = net.request(0, 1, write("k", 1));
    net.submit_to_all(&first);
    net.deliver_all();
    net.pause(0);
    assert!(
        net.run_until(2 * T_MS, |n| n
            .held()
            .iter()
            .filter(|e| new_view(e))
            .count()
            == 2),
        "expected NEW-VIEW(1) on its way to 2 and 3"
    );
    let nvs = net.take_held(new_view);
    for env in &nvs {
        let PeerMessage::NewView(nv) = &env.msg else {
            unreachable!("selected NEW-VIEWs")
        };
        let o: Vec<(View, Seq)> = nv
            .body
            .pre_prepares
            .iter()
            .map(|p| (p.header.body.view, p.header.body.seq))
            .collect();
        assert_eq!(o, [(1, 1)], "expected O to re-propose seq 1 in view 1");
    }
    // From now on: view 1's own PRE-PREPAREs are held (its new request cannot
    // execute), and so are VIEW-CHANGEs for view 2 (to read the timeouts they leave
    // view 1 with before view 2 executes anything).
    net.hold(|e| match &e.msg {
        PeerMessage::PrePrepare(pp) => pp.header.body.view == 1,
        PeerMessage::ViewChange(vc) => vc.body.view >= 2,
        _ => false,
    });
    for env in nvs {
        net.deliver(env);
    }
    assert!(
        net.run_until(500, |n| (1..N).all(|i| n.replicas[i].last_executed() == 1)),
        "expected O (seq 1, prepared in view 0) executed in view 1"
    );
    for i in 1..N {
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_active, s.view_change_timeout_ms),
            (1, true, T_MS),
            "expected replica {i} in view 1 with the timeout T (view 0 had executed)"
        );
    }
    if let Some(i) = restart {
        net.restart(i);
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_active, net.replicas[i].last_executed()),
            (1, true, 1),
            "expected replica {i} restarted in view 1, seq 1 executed"
        );
    }
    let second = net.request(1, 1, write("k", 2));
    net.submit_to_all(&second);
    let submitted = net.now;
    assert!(
        net.run_until(2 * T_MS, |n| [2, 3].iter().all(|&i| n.status(i).view == 2)),
        "expected backups 2 and 3 to time out on the new request in view 1"
    );
    assert!(
        net.now >= submitted + T_MS,
        "expected no view change before T after the new request was held"
    );
    for i in [2, 3] {
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_active, s.view_change_timeout_ms),
            (2, false, 2 * T_MS),
            "expected replica {i}, whose view 1 executed only the batch re-proposed in O, \
             to leave it with the timeout doubled to 2T (re-executing O is no progress of \
             the view)"
        );
    }
    assert_eq!(
        net.replicas[2].last_executed(),
        1,
        "expected the new request not executed in view 1"
    );
    net.release();
    assert!(
        net.run_until(2 * T_MS, |n| (1..N)
            .all(|i| n.replicas[i].last_executed() == 2)),
        "expected the new request executed in view 2"
    );
    net.assert_agreement(&[1, 2, 3]);
    for i in 1..N {
        let s = net.status(i);
        assert_eq!(
            (s.view, s.view_change_timeout_ms),
            (2, T_MS),
            "expected replica {i} back to T once view 2 executed a request of its own"
        );
    }
}

/// The client that keeps a request outstanding in every view (its batches fill O).
const BACKGROUND: u64 = 0;
/// The client with one request, which the backups' timers wait for.
const WAITED: u64 = 1;

/// A slow machine, in every view: client 1's request (the one the backups wait for)
/// is proposed, but its PRE-PREPAREs arrive D later; client 0's batches prepare at
/// once and their COMMITs arrive D later, so each view change carries one in O for
/// the next view to execute first. D is drawn per message in (T, 2T): every view
/// with the timeout T is too short, one with 2T long enough. Once client 1's request
/// executed (at f+1 replicas) the delays end and client 0's last timestamp is
/// returned; `None` if that did not happen within `limit_ms`.
fn slow_views(net: &mut Net, limit_ms: u64) -> Option<u64> {
    let mut background_batches: BTreeSet<(View, Seq)> = BTreeSet::new();
    net.hold(move |e| match &e.msg {
        PeerMessage::PrePrepare(pp) => {
            let h = &pp.header.body;
            let clients: Vec<u64> = pp.batch.iter().map(|r| r.body.client).collect();
            if clients.contains(&BACKGROUND) {
                background_batches.insert((h.view, h.seq));
            }
            clients.contains(&WAITED)
        }
        PeerMessage::Commit(c) => background_batches.contains(&(c.body.view, c.body.seq)),
        _ => false,
    });
    let mut t = 1;
    let r = net.request(BACKGROUND, t, write("background", 1));
    net.submit_to_all(&r);
    let waited = net.request(WAITED, 1, write("waited", 1));
    net.submit_to_all(&waited);
    let mut delayed: Vec<(u64, Envelope)> = Vec::new();
    let start = net.now;
    while net.now < start + limit_ms {
        net.advance(TICK_MS);
        let now = net.now;
        for env in net.take_held(|_| true) {
            let d = net
                .rng()
                .gen_range(T_MS + 5 * TICK_MS..2 * T_MS - 5 * TICK_MS);
            delayed.push((now + d, env));
        }
        let (due, later): (Vec<_>, Vec<_>) = delayed.into_iter().partition(|(at, _)| *at <= now);
        delayed = later;
        for (_, env) in due {
            net.deliver(env);
        }
        net.deliver_all();
        if net.replies_to(WAITED, 1).len() > 1 {
            net.release();
            for (_, env) in delayed {
                net.deliver(env);
            }
            return Some(t);
        }
        if net.replies_to(BACKGROUND, t).len() > 1 {
            t += 1;
            let r = net.request(BACKGROUND, t, write("background", t as i64));
            net.submit_to_all(&r);
        }
    }
    None
}

#[test]
fn request_slower_than_t_but_faster_than_2t_executes_though_every_view_reexecutes_o() {
    let first = seed_from_env(11);
    for seed in first..first + 3 {
        let mut p = params();
        p.batch_size = 1;
        p.pipeline_depth = 4;
        let mut net = Net::with(seed, p);
        let done = slow_views(&mut net, 20 * T_MS);
        let views: Vec<(u64, u64)> = (0..N)
            .map(|i| (net.status(i).view, net.status(i).view_change_timeout_ms))
            .collect();
        let Some(last) = done else {
            panic!(
                "expected client 1's request executed within 20T although each view needs \
                 more than T for it (one with 2T suffices), but views churned: (view, \
                 timeout) per replica {views:?}"
            );
        };
        // The delays end: the views settle, with 2f+1 replicas (a lone replica that
        // timed out meanwhile may wait in its view change, as in PBFT) in one active
        // view, where both clients' last requests execute.
        let want = [("waited", 1), ("background", last as i64)];
        let done_at = |n: &Net, i: usize| {
            want.iter()
                .all(|(k, v)| n.replicas[i].state().get(k) == Some(&(*v).into()))
        };
        let quorum = |n: &Net| -> Option<(u64, Vec<usize>)> {
            (0..N).map(|i| n.status(i).view).find_map(|view| {
                let active: Vec<usize> = (0..N)
                    .filter(|&i| n.status(i).view == view && n.status(i).view_active)
                    .collect();
                (active.len() >= 3).then_some((view, active))
            })
        };
        assert!(
            net.run_until(10 * T_MS, |n| quorum(n)
                .is_some_and(|(_, q)| q.iter().all(|&i| done_at(n, i)))),
            "expected 2f+1 replicas in one view to execute both clients' last requests \
             once the delays end"
        );
        let (view, settled) = quorum(&net).expect("just checked");
        net.run_for(3 * T_MS);
        for &i in &settled {
            let s = net.status(i);
            assert_eq!(
                (s.view, s.view_active),
                (view, true),
                "expected replica {i} to stay in view {view} once the delays ended"
            );
        }
        net.assert_agreement(&settled);
    }
}
