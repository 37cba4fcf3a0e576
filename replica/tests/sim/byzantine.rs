//! Byzantine rules for the simulations: each rewrites (and re-signs with the faulty
//! replica's key) or withholds one message the faulty replica sends to `to`.

use ed25519_dalek::SigningKey;
use replica::crypto::Signed;
use replica::messages::{
    batch_digest, NewView, PeerMessage, PrePrepare, PrePrepareMsg, Prepare, PreparedCert,
    ViewChange,
};
use replica::state_machine::Operation;
use serde_json::json;

/// Replica 1 answers FETCH-STATE with a state that is not the certified one
/// (one extra write), correctly re-signed.
pub fn poison_state(_to: usize, m: PeerMessage, key: &SigningKey) -> Option<PeerMessage> {
    match m {
        PeerMessage::State(st) => {
            let mut body = st.body.clone();
            body.state.execute(
                999,
                1,
                &Operation::Write {
                    key: "poison".into(),
                    value: json!(true),
                },
                false,
                false,
            );
            Some(PeerMessage::State(Box::new(Signed::sign(body, key))))
        }
        other => Some(other),
    }
}

/// Replica 0 sends even-numbered backups a null batch and odd ones the real batch
/// for the same sequence number (both correctly signed), and withholds its COMMITs.
pub fn equivocate(to: usize, m: PeerMessage, key: &SigningKey) -> Option<PeerMessage> {
    match m {
        PeerMessage::PrePrepare(pp) if to % 2 == 0 && pp.header.body.view == 0 => {
            let mut h = pp.header.body.clone();
            h.digest = batch_digest(&[]);
            Some(PeerMessage::PrePrepare(PrePrepareMsg {
                header: Signed::sign(h, key),
                batch: Vec::new(),
            }))
        }
        PeerMessage::Commit(c) if c.body.view == 0 => None,
        other => Some(other),
    }
}

/// Replica 0, the primary, stays silent in view 0 and then sends VIEW-CHANGEs with a
/// forged prepared certificate: to even replicas PREPAREs that claim other senders
/// but carry its own signature (the verifier rejects them), to odd replicas an
/// incomplete certificate with no PREPARE at all (the engine rejects it).
pub fn forge_view_change(to: usize, m: PeerMessage, key: &SigningKey) -> Option<PeerMessage> {
    match m {
        PeerMessage::PrePrepare(pp) if pp.header.body.view == 0 => None,
        PeerMessage::ViewChange(vc) => {
            let mut body: ViewChange = vc.body.clone();
            let seq = body.stable_seq + 1;
            let header = Signed::sign(
                PrePrepare {
                    view: 0,
                    seq,
                    digest: batch_digest(&[]),
                    replica: 0,
                },
                key,
            );
            let prepares = if to % 2 == 0 {
                (1..3)
                    .map(|r| {
                        Signed::sign(
                            Prepare {
                                view: 0,
                                seq,
                                digest: batch_digest(&[]),
                                replica: r,
                            },
                            key,
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            body.prepared
                .retain(|c| c.pre_prepare.header.body.seq != seq);
            body.prepared.push(PreparedCert {
                pre_prepare: PrePrepareMsg {
                    header,
                    batch: Vec::new(),
                },
                prepares,
            });
            Some(PeerMessage::ViewChange(Signed::sign(body, key)))
        }
        other => Some(other),
    }
}

/// Replica 1, primary of view 1, sends a NEW-VIEW whose O differs from what its
/// VIEW-CHANGEs imply (one extra null request past max-s), re-signed.
pub fn wrong_o(_to: usize, m: PeerMessage, key: &SigningKey) -> Option<PeerMessage> {
    match m {
        PeerMessage::NewView(nv) => {
            let mut body: NewView = nv.body.clone();
            let last = body
                .pre_prepares
                .last()
                .map(|p| p.header.body.seq)
                .unwrap_or_else(|| {
                    body.view_changes
                        .iter()
                        .map(|v| v.body.stable_seq)
                        .max()
                        .unwrap_or(0)
                });
            body.pre_prepares.push(PrePrepareMsg {
                header: Signed::sign(
                    PrePrepare {
                        view: body.view,
                        seq: last + 1,
                        digest: batch_digest(&[]),
                        replica: body.replica,
                    },
                    key,
                ),
                batch: Vec::new(),
            });
            Some(PeerMessage::NewView(Signed::sign(body, key)))
        }
        other => Some(other),
    }
}

/// The next primary (replica 1) withholds its NEW-VIEW and pre-prepares.
pub fn silent_primary(_to: usize, m: PeerMessage, _: &SigningKey) -> Option<PeerMessage> {
    match m {
        PeerMessage::NewView(_) | PeerMessage::PrePrepare(_) => None,
        other => Some(other),
    }
}
