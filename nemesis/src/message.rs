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
