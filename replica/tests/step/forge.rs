//! Messages the test signs itself, playing a Byzantine replica with its key (the
//! receiver's verifier accepts them: only the protocol checks can refuse them).

use replica::crypto::{Digest, Signed};
use replica::messages::{
    batch_digest, Checkpoint, Commit, PrePrepare, PrePrepareMsg, Prepare, Request, Seq, View,
};

use super::net::Net;

impl Net {
    /// A PRE-PREPARE for `batch` signed by replica `from`.
    pub(crate) fn forge_pre_prepare(
        &self,
        from: usize,
        view: View,
        seq: Seq,
        batch: Vec<Signed<Request>>,
    ) -> PrePrepareMsg {
        let header = PrePrepare {
            view,
            seq,
            digest: batch_digest(&batch),
            replica: from as u32,
        };
        PrePrepareMsg {
            header: Signed::sign(header, &self.keys[from]),
            batch,
        }
    }

    /// A PREPARE signed by replica `from`.
    pub(crate) fn forge_prepare(
        &self,
        from: usize,
        view: View,
        seq: Seq,
        digest: Digest,
    ) -> Signed<Prepare> {
        let body = Prepare {
            view,
            seq,
            digest,
            replica: from as u32,
        };
        Signed::sign(body, &self.keys[from])
    }

    /// A COMMIT signed by replica `from`.
    pub(crate) fn forge_commit(
        &self,
        from: usize,
        view: View,
        seq: Seq,
        digest: Digest,
    ) -> Signed<Commit> {
        let body = Commit {
            view,
            seq,
            digest,
            replica: from as u32,
        };
        Signed::sign(body, &self.keys[from])
    }

    /// A CHECKPOINT signed by replica `from`.
    pub(crate) fn forge_checkpoint(
        &self,
        from: usize,
        seq: Seq,
        state_digest: Digest,
    ) -> Signed<Checkpoint> {
        let body = Checkpoint {
            seq,
            state_digest,
            replica: from as u32,
        };
        Signed::sign(body, &self.keys[from])
    }
}
