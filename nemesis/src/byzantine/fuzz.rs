//! ByzzFuzz-style small-scope mutation: pick one field of a message (any type,
//! including STATUS, FETCH-STATE and STATE), set it to a boundary value (0, 1, the
//! maximum, the current value ±1, another replica's id, an empty or a huge list), and
//! re-sign. A value of the wrong shape for the field is not sent: the mutation is then
//! skipped.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use replica::messages::PeerMessage;
use serde_json::Value;

/// Length of the "huge" list a fuzzed list may become.
const HUGE: usize = 10_000;

/// The message with one field changed, or `None` if the change does not fit the type.
pub fn fuzz(msg: PeerMessage, rng: &mut ChaCha8Rng) -> Option<PeerMessage> {
    let mut value = serde_json::to_value(&msg).ok()?;
    let mut paths = Vec::new();
    collect(&value, &mut Vec::new(), &mut paths);
    let path = paths.choose(rng)?.clone();
    let field = pointer(&mut value, &path)?;
    *field = boundary(field, rng);
    serde_json::from_value(value).ok()
}

/// Leaf paths worth fuzzing: numbers and lists, never the type tag or a signature.
fn collect(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "type" || k == "signature" {
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
                u64::MAX,
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
}
