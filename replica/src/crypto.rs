//! Signatures (ed25519) and digests (SHA-256): the primitives the messages are built
//! from. Checking a message against the cluster's keys is [`crate::verifier`]'s job,
//! so this module depends on nothing of ours but the error type.
//!
//! A message is signed over a domain tag naming its kind followed by the canonical
//! JSON of its body (serde_json of a struct is deterministic; maps are `BTreeMap`s).

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

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
