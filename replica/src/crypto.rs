//! Signatures (ed25519) and digests (SHA-256), and the [`Verifier`] that turns a
//! message from the network into a [`Verified`] one the core accepts.
//!
//! A message is signed over a domain tag naming its kind followed by the canonical
//! JSON of its body (serde_json of a struct is deterministic; maps are `BTreeMap`s).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Mutex;

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::config::ClusterConfig;
use crate::error::{Error, Result};
use crate::messages::{PeerMessage, Request, ViewChange};

/// A SHA-256 digest, hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// SHA-256 over several parts, each length-prefixed.
    pub fn of_parts<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Digest(h.finalize().into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Digest(out))
    }
}

/// An ed25519 signature, hex on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..6]))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let mut out = [0u8; 64];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(Signature(out))
    }
}

/// Who signed a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// Replica with this id.
    Replica(u32),
    /// Client with this id.
    Client(u64),
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Replica(i) => write!(f, "replica {i}"),
            Signer::Client(c) => write!(f, "client {c}"),
        }
    }
}

/// A message body that can be signed: it names its kind and its claimed signer.
pub trait Signable: Serialize + DeserializeOwned + Clone {
    /// Domain tag, e.g. "PREPARE".
    const KIND: &'static str;
    /// The identity whose key must have signed this body.
    fn signer(&self) -> Signer;
}

/// A body with its sender's signature.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(bound = "T: Signable")]
pub struct Signed<T: Signable> {
    /// The signed content.
    pub body: T,
    /// Signature over [`signing_bytes`] of `body`.
    pub signature: Signature,
}

/// The bytes a signature covers: `pbft/<KIND>/` followed by the body's JSON.
pub fn signing_bytes<T: Signable>(body: &T) -> Vec<u8> {
    let mut out = format!("pbft/{}/", T::KIND).into_bytes();
    serde_json::to_writer(&mut out, body).expect("message bodies always serialize");
    out
}

impl<T: Signable> Signed<T> {
    /// Signs `body` with `key`.
    pub fn sign(body: T, key: &SigningKey) -> Self {
        let signature = Signature(key.sign(&signing_bytes(&body)).to_bytes());
        Signed { body, signature }
    }

    /// Checks the signature against `key`.
    pub fn verify_with(&self, key: &VerifyingKey) -> Result<()> {
        let sig = ed25519_dalek::Signature::from_bytes(&self.signature.0);
        key.verify(&signing_bytes(&self.body), &sig)
            .map_err(|_| Error::BadSignature {
                kind: T::KIND,
                signer: self.body.signer().to_string(),
            })
    }

    /// Digest of the signed body (excluding the signature).
    pub fn digest(&self) -> Digest {
        Digest::of(&signing_bytes(&self.body))
    }
}

/// A freshly generated key pair, with hex helpers for the key files.
pub fn generate_keypair<R: rand::CryptoRng + rand::RngCore>(rng: &mut R) -> SigningKey {
    SigningKey::generate(rng)
}

/// Parses 32 bytes of hex (a secret seed or a public key).
pub fn parse_hex32(s: &str, what: &str) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut out).map_err(|e| Error::Key {
        what: what.to_string(),
        reason: format!("expected 64 hex characters: {e}"),
    })?;
    Ok(out)
}

/// Parses a hex public key.
pub fn parse_public_key(s: &str, what: &str) -> Result<VerifyingKey> {
    VerifyingKey::from_bytes(&parse_hex32(s, what)?).map_err(|e| Error::Key {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

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
    seen_requests: Mutex<HashSet<(Digest, [u8; 16])>>,
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

    fn cache_key(r: &Signed<Request>) -> (Digest, [u8; 16]) {
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&r.signature.0[..16]);
        (r.digest(), tag)
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
