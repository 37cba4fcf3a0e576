//! What the proxy learns of one message: its link (from the listener it arrived on,
//! never from a header), its type, view, sequence number and signer, decoded from the
//! JSON body. A body that does not decode is still forwarded (the receiver must reject
//! it), as type `unparsed`.

use crate::link::Link;
use replica::crypto::Signed;
use replica::messages::{PeerMessage, Request};

/// One message crossing the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The link it crosses.
    pub link: Link,
    /// Its type: a PBFT message type (`pre-prepare`, `prepare`, ...), `request` for a
    /// client request, or `unparsed`.
    pub kind: &'static str,
    /// The view it names, if any.
    pub view: Option<u64>,
    /// The sequence number it names, if any.
    pub seq: Option<u64>,
    /// The replica that signed it (`None` for client requests and relays).
    pub sender: Option<usize>,
    /// The client that signed it (client requests and relays).
    pub client: Option<u64>,
}

impl Message {
    /// Decodes a `POST /pbft` body.
    pub fn peer(link: Link, body: &[u8]) -> Message {
        let mut m = Message::unparsed(link);
        let Ok(msg) = serde_json::from_slice::<PeerMessage>(body) else {
            return m;
        };
        m.kind = msg.kind();
        m.sender = msg.sender().map(|s| s as usize);
        (m.view, m.seq) = match &msg {
            PeerMessage::PrePrepare(p) => (Some(p.header.body.view), Some(p.header.body.seq)),
            PeerMessage::Prepare(p) => (Some(p.body.view), Some(p.body.seq)),
            PeerMessage::Commit(c) => (Some(c.body.view), Some(c.body.seq)),
            PeerMessage::Checkpoint(c) => (None, Some(c.body.seq)),
            PeerMessage::Status(s) => (Some(s.body.view), Some(s.body.last_executed)),
            PeerMessage::Relay(r) => {
                m.client = Some(r.body.client);
                (None, None)
            }
            PeerMessage::ViewChange(v) => (Some(v.body.view), Some(v.body.stable_seq)),
            PeerMessage::NewView(v) => (Some(v.body.view), None),
            PeerMessage::FetchState(f) => (None, Some(f.body.seq)),
            PeerMessage::State(s) => (None, Some(s.body.seq)),
        };
        m
    }

    /// Decodes a `POST /request` body (a client request).
    pub fn request(link: Link, body: &[u8]) -> Message {
        let mut m = Message::unparsed(link);
        if let Ok(r) = serde_json::from_slice::<Signed<Request>>(body) {
            m.kind = "request";
            m.client = Some(r.body.client);
        }
        m
    }

    /// Only the type of a message, read from the `"type"` tag at the start of a peer
    /// message's body without decoding the rest: what the counters need when no rule
    /// is installed (the proxy's fast path).
    pub fn kind_only(link: Link, is_request: bool, body: &[u8]) -> Message {
        let mut m = Message::unparsed(link);
        m.kind = if is_request {
            "request"
        } else {
            peek_kind(body).unwrap_or("unparsed")
        };
        m
    }

    fn unparsed(link: Link) -> Message {
        Message {
            link,
            kind: "unparsed",
            view: None,
            seq: None,
            sender: None,
            client: None,
        }
    }
}

/// Every peer message type, as tagged on the wire.
pub(crate) const KINDS: [&str; 10] = [
    "pre-prepare",
    "prepare",
    "commit",
    "checkpoint",
    "status",
    "relay",
    "view-change",
    "new-view",
    "fetch-state",
    "state",
];

/// The `"type"` tag of a peer message body, if the body starts with it (serde writes
/// an internally tagged enum's tag first).
fn peek_kind(body: &[u8]) -> Option<&'static str> {
    let rest = body.strip_prefix(b"{\"type\":\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let tag = &rest[..end];
    KINDS.iter().copied().find(|k| k.as_bytes() == tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use replica::crypto::Digest;
    use replica::messages::Prepare;

    #[test]
    fn the_fast_path_reads_the_same_type_as_a_full_decode() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let msg = PeerMessage::Prepare(Signed::sign(
            Prepare {
                view: 3,
                seq: 9,
                digest: Digest::of(b"x"),
                replica: 2,
            },
            &key,
        ));
        let body = serde_json::to_vec(&msg).unwrap();
        let full = Message::peer(Link::peer(2, 0), &body);
        assert_eq!(
            (full.kind, full.view, full.seq, full.sender),
            ("prepare", Some(3), Some(9), Some(2))
        );
        let fast = Message::kind_only(Link::peer(2, 0), false, &body);
        assert_eq!(fast.kind, "prepare");
        assert_eq!(
            Message::kind_only(Link::peer(2, 0), false, b"garbage").kind,
            "unparsed"
        );
        assert_eq!(Message::peer(Link::peer(2, 0), b"garbage").kind, "unparsed");
    }
}
