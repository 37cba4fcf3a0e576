//! The [`Verifier`]: turns a message from the network into a [`Verified`] one the
//! core accepts, by checking every signature in it against the cluster's keys.
//!
//! Dependencies point one way: `crypto` (primitives) <- `messages` <- `config` <-
//! `verifier`. Client requests are verified once per process: the cache is keyed on
//! the request's digest and its *whole* signature, so a copy with another signature
//! is checked on its own (see `NOTES.md`, "Authentication").

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use ed25519_dalek::VerifyingKey;

use crate::config::ClusterConfig;
use crate::crypto::{parse_public_key, Digest, Signable, Signed, Signer};
use crate::error::{Error, Result};
use crate::messages::{PeerMessage, Request, ViewChange};

/// Proof that a value passed signature verification; only this module makes one.
#[derive(Clone, Debug)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// The verified value.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Unwraps the verified value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Bound on the cache of already-verified client requests.
const REQUEST_CACHE_LIMIT: usize = 100_000;

/// Checks signatures and signer identities against the cluster's public keys.
///
/// Client requests are verified once: their digests are cached, so a request
/// received from the client and again inside a PRE-PREPARE costs one check.
#[derive(Debug)]
pub struct Verifier {
    replicas: Vec<VerifyingKey>,
    clients: BTreeMap<u64, VerifyingKey>,
    seen_requests: Mutex<HashSet<(Digest, [u8; 64])>>,
}

impl Verifier {
    /// Builds a verifier from the cluster configuration.
    pub fn new(config: &ClusterConfig) -> Result<Self> {
        let mut replicas = Vec::new();
        for r in &config.replicas {
            replicas.push(parse_public_key(
                &r.public_key,
                &format!("replica {}", r.id),
            )?);
        }
        let mut clients = BTreeMap::new();
        for c in &config.clients {
            clients.insert(
                c.id,
                parse_public_key(&c.public_key, &format!("client {}", c.id))?,
            );
        }
        Ok(Verifier {
            replicas,
            clients,
            seen_requests: Mutex::new(HashSet::new()),
        })
    }

    fn key_of(&self, signer: Signer) -> Option<&VerifyingKey> {
        match signer {
            Signer::Replica(i) => self.replicas.get(i as usize),
            Signer::Client(c) => self.clients.get(&c),
        }
    }

    /// Verifies one signed body against the key of its claimed signer.
    pub fn verify_signed<T: Signable>(&self, m: &Signed<T>) -> Result<()> {
        let signer = m.body.signer();
        let key = self.key_of(signer).ok_or_else(|| Error::BadSignature {
            kind: T::KIND,
            signer: format!("unknown {signer}"),
        })?;
        m.verify_with(key)
    }

    /// Verifies a client request (cached by digest and signature).
    pub fn verify_request(&self, r: &Signed<Request>) -> Result<()> {
        let key = Self::cache_key(r);
        if self
            .seen_requests
            .lock()
            .expect("cache lock")
            .contains(&key)
        {
            return Ok(());
        }
        self.verify_signed(r)?;
        let mut seen = self.seen_requests.lock().expect("cache lock");
        if seen.len() >= REQUEST_CACHE_LIMIT {
            seen.clear();
        }
        seen.insert(key);
        Ok(())
    }

    /// Verifies the client requests of a batch (each at most once per process).
    ///
    /// ed25519 batch verification would be faster, but its cofactored check can
    /// accept signatures that single verification rejects, so replicas with
    /// different cache contents could disagree on a PRE-PREPARE; we keep single checks.
    pub fn verify_requests(&self, batch: &[Signed<Request>]) -> Result<()> {
        batch.iter().try_for_each(|r| self.verify_request(r))
    }

    /// The whole signature is part of the key: a copy of a request with another
    /// (forged) signature has the same digest, and must not pass because the genuine
    /// one was seen, or replicas with different cache contents would disagree on it.
    fn cache_key(r: &Signed<Request>) -> (Digest, [u8; 64]) {
        (r.digest(), r.signature.0)
    }

    /// Verifies a client request and wraps it.
    pub fn verified_request(&self, r: Signed<Request>) -> Result<Verified<Signed<Request>>> {
        self.verify_request(&r)?;
        Ok(Verified(r))
    }

    /// Verifies a peer message: the sender's signature, for a PRE-PREPARE every
    /// client request in its batch, and every signed message nested in a
    /// VIEW-CHANGE, NEW-VIEW or STATE.
    pub fn verify_peer(&self, m: PeerMessage) -> Result<Verified<PeerMessage>> {
        match &m {
            PeerMessage::PrePrepare(pp) => {
                self.verify_signed(&pp.header)?;
                self.verify_requests(&pp.batch)?;
            }
            PeerMessage::Prepare(x) => self.verify_signed(x)?,
            PeerMessage::Commit(x) => self.verify_signed(x)?,
            PeerMessage::Checkpoint(x) => self.verify_signed(x)?,
            PeerMessage::Status(x) => self.verify_signed(x)?,
            PeerMessage::Relay(r) => self.verify_request(r)?,
            PeerMessage::ViewChange(x) => self.verify_view_change(x)?,
            PeerMessage::NewView(x) => {
                self.verify_signed(x)?;
                for vc in &x.body.view_changes {
                    self.verify_view_change(vc)?;
                }
                for pp in &x.body.pre_prepares {
                    self.verify_signed(&pp.header)?;
                    self.verify_requests(&pp.batch)?;
                }
            }
            PeerMessage::FetchState(x) => self.verify_signed(x)?,
            PeerMessage::State(x) => {
                self.verify_signed(x.as_ref())?;
                for c in &x.body.proof {
                    self.verify_signed(c)?;
                }
            }
        }
        Ok(Verified(m))
    }

    /// Verifies a VIEW-CHANGE and every signature inside it: the checkpoint proof,
    /// and each prepared certificate's PRE-PREPARE (with its batch) and PREPAREs.
    /// The engine checks what the signed messages say (quorums, views, digests).
    pub fn verify_view_change(&self, vc: &Signed<ViewChange>) -> Result<()> {
        self.verify_signed(vc)?;
        for c in &vc.body.checkpoint_proof {
            self.verify_signed(c)?;
        }
        for cert in &vc.body.prepared {
            self.verify_signed(&cert.pre_prepare.header)?;
            self.verify_requests(&cert.pre_prepare.batch)?;
            for p in &cert.prepares {
                self.verify_signed(p)?;
            }
        }
        Ok(())
    }

    /// Number of replicas known.
    pub fn replica_count(&self) -> usize {
        self.replicas.len()
    }
}
