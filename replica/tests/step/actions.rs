//! Reading a step's outputs: one short line per action (so that a test can assert
//! the exact list a core emitted, in order), and extractors for the messages in it.

use replica::core::record::Record;
use replica::core::Output;
use replica::crypto::Signed;
use replica::messages::{PeerMessage, PrePrepareMsg, ViewChange};

/// A message's kind with the view and sequence number it is about.
pub(crate) fn name(m: &PeerMessage) -> String {
    let kind = m.kind();
    match m {
        PeerMessage::PrePrepare(p) => {
            let h = &p.header.body;
            format!("{kind} v{} n{}", h.view, h.seq)
        }
        PeerMessage::Prepare(p) => format!("{kind} v{} n{}", p.body.view, p.body.seq),
        PeerMessage::Commit(c) => format!("{kind} v{} n{}", c.body.view, c.body.seq),
        PeerMessage::Checkpoint(c) => format!("{kind} n{}", c.body.seq),
        PeerMessage::ViewChange(vc) => format!("{kind} v{}", vc.body.view),
        PeerMessage::NewView(nv) => format!("{kind} v{}", nv.body.view),
        _ => kind.to_string(),
    }
}

fn record_name(r: &Record) -> &'static str {
    match r {
        Record::PrePrepare(_) => "pre-prepare",
        Record::Prepare(_) => "prepare",
        Record::Commit(_) => "commit",
        Record::Checkpoint(_) => "checkpoint",
        Record::Executed(_) => "executed",
        Record::Stable(_) => "stable",
        Record::Prepares { .. } => "prepares",
        Record::ViewChange(_) => "view-change",
        Record::NewView { .. } => "new-view",
    }
}

/// One line for an output, e.g. `broadcast prepare v0 n1` or `persist commit`.
pub(crate) fn describe(o: &Output) -> String {
    match o {
        Output::Send { to, msg } => format!("send {} to {to}", name(msg)),
        Output::Broadcast(msg) => format!("broadcast {}", name(msg)),
        Output::Reply { client, reply } => format!("reply to c{client} t{}", reply.timestamp),
        Output::Persist(r) => format!("persist {}", record_name(r)),
        Output::Executed(e) => format!("execute n{}", e.seq),
        Output::SetTimer { at_ms } => format!("timer {at_ms}"),
        Output::Rejected { kind, .. } => format!("reject {kind}"),
    }
}

/// The outputs of a step, one line each, in order.
pub(crate) fn lines(out: &[Output]) -> Vec<String> {
    out.iter().map(describe).collect()
}

/// The messages broadcast in `out`.
fn broadcasts(out: &[Output]) -> impl Iterator<Item = &PeerMessage> {
    out.iter().filter_map(|o| match o {
        Output::Broadcast(m) => Some(m),
        _ => None,
    })
}

/// The PRE-PREPAREs broadcast in `out`.
pub(crate) fn pre_prepares(out: &[Output]) -> Vec<PrePrepareMsg> {
    broadcasts(out)
        .filter_map(|m| match m {
            PeerMessage::PrePrepare(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// The VIEW-CHANGEs broadcast in `out`.
pub(crate) fn view_changes(out: &[Output]) -> Vec<Signed<ViewChange>> {
    broadcasts(out)
        .filter_map(|m| match m {
            PeerMessage::ViewChange(vc) => Some(vc.clone()),
            _ => None,
        })
        .collect()
}

/// The deadlines of the timers asked for in `out`.
pub(crate) fn timers(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::SetTimer { at_ms } => Some(*at_ms),
            _ => None,
        })
        .collect()
}

/// The (client, timestamp) of each request in a batch.
pub(crate) fn batch_ids(pp: &PrePrepareMsg) -> Vec<(u64, u64)> {
    pp.batch
        .iter()
        .map(|r| (r.body.client, r.body.timestamp))
        .collect()
}
