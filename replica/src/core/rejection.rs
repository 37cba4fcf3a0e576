//! Why a replica rejects a message, and the counts it serves in `GET /status`.
//!
//! A message a replica rejects is one the protocol refused: it fails a check before it
//! can count towards anything. The categories let a test harness tell a mutation that
//! only exercises the signature or format checks from one the protocol itself turns
//! down (a wrong view, a conflicting vote, an invalid certificate). A sender may label
//! a message with an opaque tag (the `x-pbft-tag` HTTP header; the Byzantine proxy
//! names the mutator that made it), and the counts are kept per tag as well, so the
//! harness can say, per mutator, how many of its messages were received and why the
//! rejected ones were.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a message was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rejection {
    /// Not a message of the expected shape (JSON, or a field a check requires).
    Malformed,
    /// A signature that does not verify, or an unknown signer.
    BadSignature,
    /// A view or sequence number beyond what the wire allows.
    OutOfRange,
    /// For another view than this replica's.
    WrongView,
    /// Normal-case traffic while this replica is changing views.
    ViewChanging,
    /// A sequence number outside the watermarks.
    Watermarks,
    /// From a replica whose role does not send it (a backup's PRE-PREPARE, the
    /// primary's PREPARE).
    WrongSender,
    /// A digest that does not match what it claims to cover.
    DigestMismatch,
    /// A second, different vote or proposal for one slot.
    Conflict,
    /// A certificate or proof that does not hold (VIEW-CHANGE, NEW-VIEW, STATE).
    InvalidProof,
    /// Older than what this replica already has.
    Stale,
    /// Larger than the configuration allows.
    Oversized,
}

impl Rejection {
    /// Its name in counts.
    pub fn name(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::BadSignature => "bad-signature",
            Rejection::OutOfRange => "out-of-range",
            Rejection::WrongView => "wrong-view",
            Rejection::ViewChanging => "view-changing",
            Rejection::Watermarks => "watermarks",
            Rejection::WrongSender => "wrong-sender",
            Rejection::DigestMismatch => "digest-mismatch",
            Rejection::Conflict => "conflict",
            Rejection::InvalidProof => "invalid-proof",
            Rejection::Stale => "stale",
            Rejection::Oversized => "oversized",
        }
    }
}

/// The longest tag kept.
pub const TAG_MAX_LEN: usize = 40;
/// The most distinct tags kept (later ones are counted as untagged).
pub const TAGS_MAX: usize = 64;

/// Received and rejected messages of one tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCounts {
    /// Peer messages with this tag that reached the replica.
    pub received: u64,
    /// Of them, the rejected ones, by reason.
    pub rejected: BTreeMap<String, u64>,
}

/// Whether `tag` is one a replica keeps: short, lower-case letters, digits and `-`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= TAG_MAX_LEN
        && tag
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Counts per tag, bounded to [`TAGS_MAX`] tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedCounts(pub BTreeMap<String, TagCounts>);

impl TaggedCounts {
    fn entry(&mut self, tag: &str) -> Option<&mut TagCounts> {
        if !valid_tag(tag) || (self.0.len() >= TAGS_MAX && !self.0.contains_key(tag)) {
            return None;
        }
        Some(self.0.entry(tag.to_string()).or_default())
    }

    /// One message with `tag` reached the replica.
    pub fn received(&mut self, tag: &str) {
        if let Some(c) = self.entry(tag) {
            c.received += 1;
        }
    }

    /// One message with `tag` was rejected, for `why`.
    pub fn rejected(&mut self, tag: &str, why: Rejection) {
        if let Some(c) = self.entry(tag) {
            *c.rejected.entry(why.name().to_string()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_plain_and_bounded_in_number() {
        assert!(valid_tag("forge-view-change"));
        assert!(!valid_tag("") && !valid_tag("Upper") && !valid_tag("a b"));
        assert!(!valid_tag(&"a".repeat(TAG_MAX_LEN + 1)));
        let mut c = TaggedCounts::default();
        for i in 0..TAGS_MAX + 5 {
            c.received(&format!("t{i}"));
        }
        assert_eq!(c.0.len(), TAGS_MAX);
        c.received("t0");
        c.rejected("t0", Rejection::WrongView);
        assert_eq!(c.0["t0"].received, 2);
        assert_eq!(c.0["t0"].rejected["wrong-view"], 1);
    }
}
