//! Re-signing a rewritten message with the faulty sender's key. Only the outer
//! signature (and a PRE-PREPARE's header) is the sender's own: certificates inside a
//! VIEW-CHANGE or NEW-VIEW carry other replicas' signatures, which a faulty replica
//! cannot forge, so a receiver must catch anything changed there.

use ed25519_dalek::SigningKey;
use replica::crypto::Signed;
use replica::messages::PeerMessage;

/// Signs the message's own body (and a PRE-PREPARE's header) again with `key`. Relays
/// carry a client's signature and are left as they are.
pub fn resign(msg: PeerMessage, key: &SigningKey) -> PeerMessage {
    match msg {
        PeerMessage::PrePrepare(mut p) => {
            p.header = Signed::sign(p.header.body, key);
            PeerMessage::PrePrepare(p)
        }
        PeerMessage::Prepare(m) => PeerMessage::Prepare(Signed::sign(m.body, key)),
        PeerMessage::Commit(m) => PeerMessage::Commit(Signed::sign(m.body, key)),
        PeerMessage::Checkpoint(m) => PeerMessage::Checkpoint(Signed::sign(m.body, key)),
        PeerMessage::Status(m) => PeerMessage::Status(Signed::sign(m.body, key)),
        PeerMessage::ViewChange(m) => PeerMessage::ViewChange(Signed::sign(m.body, key)),
        PeerMessage::NewView(m) => PeerMessage::NewView(Signed::sign(m.body, key)),
        PeerMessage::FetchState(m) => PeerMessage::FetchState(Signed::sign(m.body, key)),
        PeerMessage::State(m) => PeerMessage::State(Box::new(Signed::sign(m.body, key))),
        relay @ PeerMessage::Relay(_) => relay,
    }
}
