//! ByzzFuzz-style small-scope mutation: pick one field of a message (any type,
//! including STATUS, FETCH-STATE and STATE), set it to a boundary value (0, 1, the
//! largest number the wire allows, the current value ±1, another replica's id, an empty,
//! reversed or huge list), and re-sign. Only what the faulty replica signs itself is
//! changed: its own body (and a PRE-PREPARE's header), never a field inside another
//! signer's message (a client's request, a certificate's PREPAREs), which no replica
//! could re-sign, nor its own id, which names the key; a list of others' messages may
//! be emptied, reversed or repeated. So every fuzzed message passes the receiver's
//! signature check and tests the protocol's checks. A value of the wrong shape for the
//! field is not sent: the mutation is then skipped.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use replica::messages::{PeerMessage, MAX_WIRE_NUMBER};
use serde_json::Value;

/// Length of the "huge" list a fuzzed list may become.
const HUGE: usize = 10_000;

/// The message with one field changed, or `None` if the change does not fit the type.
pub fn fuzz(msg: PeerMessage, rng: &mut ChaCha8Rng) -> Option<PeerMessage> {
    // A relay is a client's signed request, which the replica cannot re-sign.
    if matches!(msg, PeerMessage::Relay(_)) {
        return None;
    }
    let mut value = serde_json::to_value(&msg).ok()?;
    let mut paths = Vec::new();
    collect(&value, &mut Vec::new(), &mut paths);
    let path = paths.choose(rng)?.clone();
    let field = pointer(&mut value, &path)?;
    *field = boundary(field, rng);
    serde_json::from_value(value).ok()
}

/// Leaf paths worth fuzzing: numbers and lists of what the sender signs itself,
/// never the type tag, a signature, the signer's id, or inside another signer's
/// message.
fn collect(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            // Another signer's message inside this one (the root, and a PRE-PREPARE's
            // header, are the sender's own).
            let own = path.is_empty() || path.as_slice() == ["header"];
            if !own && map.contains_key("signature") {
                return;
            }
            for (k, child) in map {
                if k == "type" || k == "signature" || k == "replica" {
                    continue;
                }
                path.push(k.clone());
                collect(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            out.push(path.clone());
            for (i, child) in items.iter().enumerate().take(4) {
                path.push(i.to_string());
                collect(child, path, out);
                path.pop();
            }
        }
        Value::Number(_) => out.push(path.clone()),
        _ => {}
    }
}

fn pointer<'a>(v: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(p)?,
            Value::Array(a) => a.get_mut(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn boundary(v: &Value, rng: &mut ChaCha8Rng) -> Value {
    match v {
        Value::Array(items) => match rng.gen_range(0..3) {
            0 => Value::Array(Vec::new()),
            1 if !items.is_empty() => {
                Value::Array(vec![items[0].clone(); HUGE.min(items.len() * 1000)])
            }
            _ => Value::Array(items.iter().rev().cloned().collect()),
        },
        Value::Number(n) => {
            let x = n.as_u64().unwrap_or(0);
            let choices = [
                0,
                1,
                MAX_WIRE_NUMBER,
                x.saturating_add(1),
                x.saturating_sub(1),
                (x + 1) % 4,
                u32::MAX as u64,
            ];
            Value::from(*choices.choose(rng).expect("choices"))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use rand::SeedableRng;
    use replica::crypto::{Digest, Signed};
    use replica::messages::{Prepare, Status};

    #[test]
    fn fuzzing_changes_one_field_and_follows_the_seed() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let msg = PeerMessage::Status(Signed::sign(
            Status {
                view: 5,
                low_watermark: 100,
                last_executed: 120,
                replica: 1,
            },
            &key,
        ));
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..20)
                .filter_map(|_| fuzz(msg.clone(), &mut rng))
                .collect::<Vec<_>>()
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert!(a.iter().any(|m| *m != msg), "some fuzzed message differs");
        for m in &a {
            let (PeerMessage::Status(x), PeerMessage::Status(y)) = (m, &msg) else {
                panic!()
            };
            let changed = [
                x.body.view != y.body.view,
                x.body.low_watermark != y.body.low_watermark,
                x.body.last_executed != y.body.last_executed,
                x.body.replica != y.body.replica,
            ];
            assert!(changed.iter().filter(|c| **c).count() <= 1, "{m:?}");
        }
        let p = PeerMessage::Prepare(Signed::sign(
            Prepare {
                view: 0,
                seq: 1,
                digest: Digest::of(b"d"),
                replica: 2,
            },
            &key,
        ));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert!((0..20).filter_map(|_| fuzz(p.clone(), &mut rng)).count() > 0);
    }

    /// Every fuzzed PRE-PREPARE and VIEW-CHANGE (carrying a client's request and
    /// other replicas' PREPAREs) still passes the receiver's signature checks.
    #[test]
    fn fuzzed_messages_keep_every_signature_valid() {
        use replica::messages::{batch_digest, PrePrepare, PrePrepareMsg, PreparedCert};
        use replica::messages::{Request, ViewChange};
        use replica::verifier::Verifier;
        use replica::{ClusterConfig, Operation};
        let keys: Vec<SigningKey> = (0..4)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let client = (0, SigningKey::from_bytes(&[50; 32]));
        let listen: Vec<String> = (0..4).map(|i| format!("127.0.0.1:{}", 9000 + i)).collect();
        let config = ClusterConfig::local(1, &keys, &listen, std::slice::from_ref(&client));
        let verifier = Verifier::new(&config).unwrap();
        let request = Signed::sign(
            Request {
                client: 0,
                timestamp: 1,
                op: Operation::Write {
                    key: "k".into(),
                    value: serde_json::json!(1),
                },
            },
            &client.1,
        );
        let batch = vec![request];
        let digest = batch_digest(&batch);
        let pre_prepare = |from: usize| PrePrepareMsg {
            header: Signed::sign(
                PrePrepare {
                    view: 1,
                    seq: 3,
                    digest,
                    replica: from as u32,
                },
                &keys[from],
            ),
            batch: batch.clone(),
        };
        let prepares = [2usize, 3]
            .map(|i| {
                Signed::sign(
                    Prepare {
                        view: 1,
                        seq: 3,
                        digest,
                        replica: i as u32,
                    },
                    &keys[i],
                )
            })
            .to_vec();
        let view_change = Signed::sign(
            ViewChange {
                view: 2,
                stable_seq: 0,
                checkpoint_proof: Vec::new(),
                prepared: vec![PreparedCert {
                    pre_prepare: pre_prepare(1),
                    prepares,
                }],
                replica: 0,
            },
            &keys[0],
        );
        let messages = [
            PeerMessage::PrePrepare(pre_prepare(0)),
            PeerMessage::ViewChange(view_change),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for msg in messages {
            assert!(
                verifier.verify_peer(msg.clone()).is_ok(),
                "the original verifies"
            );
            let mut changed = 0;
            for _ in 0..200 {
                let Some(fuzzed) = fuzz(msg.clone(), &mut rng) else {
                    continue;
                };
                let fuzzed = super::super::resign::resign(fuzzed, &keys[0]);
                changed += usize::from(fuzzed != msg);
                if let Err(e) = verifier.verify_peer(fuzzed.clone()) {
                    panic!("{e}: {}", serde_json::to_string(&fuzzed).unwrap());
                }
            }
            assert!(
                changed > 50,
                "only {changed} of 200 fuzzed {} differ",
                msg.kind()
            );
        }
    }
}
