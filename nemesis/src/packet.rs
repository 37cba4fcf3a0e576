//! Packet faults on every link, each with a probability: drop, delay (fixed plus
//! jitter), duplicate, reorder (hold a message back past the next one) and replay
//! (deliver an earlier message of the link again).
//!
//! Written as `drop=0.1,delay=50ms~20ms,duplicate=0.05,reorder=0.05,replay=0.01`;
//! `delay=50ms~20ms@0.5` delays only half the messages; `links=replicas` (or
//! `clients`, default `all`) limits the faults to one kind of link, `to=1+2` to the
//! links into those replicas, and `kinds=prepare+commit` to those message types (a
//! selective omission: `drop=1,kinds=prepare,to=1` starves replica 1 of PREPAREs and
//! nothing else).

use crate::error::{Error, Result};
use crate::link::Endpoint;
use crate::message::Message;
use crate::rule::{Rule, Verdict};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which links packet faults apply to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkScope {
    /// Every link.
    #[default]
    All,
    /// Replica-to-replica links only.
    Replicas,
    /// Client-to-replica links only.
    Clients,
}

/// A delay: `fixed` plus a uniform jitter in `[-jitter, +jitter]`, with probability `p`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DelaySpec {
    /// The fixed part.
    pub fixed_ms: u64,
    /// The jitter's half-width.
    pub jitter_ms: u64,
    /// The probability a message is delayed.
    pub p: f64,
}

/// Per-message fault probabilities.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PacketSpec {
    /// Probability of dropping a message.
    pub drop: f64,
    /// Delay, if any.
    pub delay: Option<DelaySpec>,
    /// Probability of delivering a message twice.
    pub duplicate: f64,
    /// Probability of holding a message back past the next one.
    pub reorder: f64,
    /// Probability of replaying an earlier message of the link along with this one.
    pub replay: f64,
    /// The links affected.
    pub links: LinkScope,
    /// Only messages to these replicas (empty: to any).
    pub to: Vec<usize>,
    /// Only messages of these types (empty: every type).
    pub kinds: Vec<String>,
}

impl PacketSpec {
    /// The spec the `packet` nemesis family uses when no `--packet` is given.
    pub fn default_faults() -> PacketSpec {
        "drop=0.05,delay=20ms~10ms@0.5,duplicate=0.05,reorder=0.05,replay=0.02"
            .parse()
            .expect("the default packet spec parses")
    }
}

fn probability(spec: &str, key: &str, v: &str) -> Result<f64> {
    let p: f64 = v
        .parse()
        .map_err(|_| Error::spec(spec, format!("{key}={v}: not a number")))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::spec(
            spec,
            format!("{key}={v}: a probability must be between 0 and 1"),
        ));
    }
    Ok(p)
}

/// Parses `50ms`, `1s` or a bare number of milliseconds.
pub fn parse_duration_ms(spec: &str, v: &str) -> Result<u64> {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    let x: f64 = num
        .parse()
        .map_err(|_| Error::spec(spec, format!("{v}: not a duration (e.g. 50ms, 2s)")))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err(Error::spec(spec, format!("{v}: must be a duration ≥ 0")));
    }
    Ok((x * scale).round() as u64)
}

impl FromStr for PacketSpec {
    type Err = Error;
    fn from_str(spec: &str) -> Result<Self> {
        let mut out = PacketSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| Error::spec(spec, format!("{part}: expected key=value")))?;
            match key {
                "drop" => out.drop = probability(spec, key, value)?,
                "duplicate" => out.duplicate = probability(spec, key, value)?,
                "reorder" => out.reorder = probability(spec, key, value)?,
                "replay" => out.replay = probability(spec, key, value)?,
                "delay" => {
                    let (d, p) = match value.split_once('@') {
                        Some((d, p)) => (d, probability(spec, "delay probability", p)?),
                        None => (value, 1.0),
                    };
                    let (fixed, jitter) = match d.split_once('~') {
                        Some((f, j)) => (parse_duration_ms(spec, f)?, parse_duration_ms(spec, j)?),
                        None => (parse_duration_ms(spec, d)?, 0),
                    };
                    out.delay = Some(DelaySpec {
                        fixed_ms: fixed,
                        jitter_ms: jitter,
                        p,
                    });
                }
                "links" => {
                    out.links = match value {
                        "all" => LinkScope::All,
                        "replicas" => LinkScope::Replicas,
                        "clients" => LinkScope::Clients,
                        other => {
                            return Err(Error::spec(
                                spec,
                                format!("links={other}: expected all, replicas or clients"),
                            ))
                        }
                    }
                }
                "to" => {
                    out.to = value
                        .split('+')
                        .map(|v| {
                            v.trim().parse::<usize>().map_err(|_| {
                                Error::spec(spec, format!("to={value}: expected ids like 1+2"))
                            })
                        })
                        .collect::<Result<_>>()?;
                }
                "kinds" => {
                    out.kinds = value.split('+').map(|k| k.trim().to_string()).collect();
                    if let Some(bad) = out.kinds.iter().find(|k| !known_kind(k)) {
                        return Err(Error::spec(
                            spec,
                            format!(
                                "kinds: unknown message type {bad:?}; expected request, {} or \
                                 unparsed",
                                crate::message::KINDS.join(", ")
                            ),
                        ));
                    }
                }
                other => {
                    return Err(Error::spec(
                        spec,
                        format!(
                            "unknown packet fault {other:?}; expected drop, delay, duplicate, \
                             reorder, replay, links, to or kinds"
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for PacketSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        for (k, p) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("replay", self.replay),
        ] {
            if p > 0.0 {
                parts.push(format!("{k}={p}"));
            }
        }
        if let Some(d) = self.delay {
            let mut s = format!("delay={}ms~{}ms", d.fixed_ms, d.jitter_ms);
            if d.p < 1.0 {
                s.push_str(&format!("@{}", d.p));
            }
            parts.push(s);
        }
        if self.links != LinkScope::All {
            parts.push(format!(
                "links={}",
                if self.links == LinkScope::Replicas {
                    "replicas"
                } else {
                    "clients"
                }
            ));
        }
        if !self.to.is_empty() {
            let ids: Vec<String> = self.to.iter().map(usize::to_string).collect();
            parts.push(format!("to={}", ids.join("+")));
        }
        if !self.kinds.is_empty() {
            parts.push(format!("kinds={}", self.kinds.join("+")));
        }
        f.write_str(&parts.join(","))
    }
}

/// Whether `kinds=` may name `kind`: a peer message type, `request` or `unparsed`.
fn known_kind(kind: &str) -> bool {
    matches!(kind, "request" | "unparsed") || crate::message::KINDS.contains(&kind)
}

impl Rule for PacketSpec {
    fn on_message(&self, msg: &Message, rng: &mut ChaCha8Rng) -> Verdict {
        let applies = matches!(
            (self.links, msg.link.from),
            (LinkScope::All, _)
                | (LinkScope::Replicas, Endpoint::Replica(_))
                | (LinkScope::Clients, Endpoint::Clients)
        );
        let applies = applies
            && (self.to.is_empty() || self.to.contains(&msg.link.to))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == msg.kind));
        if !applies {
            return Verdict::Deliver;
        }
        if rng.gen_bool(self.drop) {
            return Verdict::Drop;
        }
        if rng.gen_bool(self.duplicate) {
            return Verdict::Duplicate;
        }
        if rng.gen_bool(self.reorder) {
            return Verdict::Hold;
        }
        if rng.gen_bool(self.replay) {
            return Verdict::Replay;
        }
        if let Some(d) = self.delay {
            if rng.gen_bool(d.p) {
                let jitter = if d.jitter_ms > 0 {
                    rng.gen_range(-(d.jitter_ms as i64)..=d.jitter_ms as i64)
                } else {
                    0
                };
                let ms = (d.fixed_ms as i64 + jitter).max(0) as u64;
                return Verdict::Delay(Duration::from_millis(ms));
            }
        }
        Verdict::Deliver
    }

    fn describe(&self) -> String {
        format!("packet {self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;
    use rand::SeedableRng;

    #[test]
    fn specs_parse_and_print_back() {
        let s: PacketSpec = "drop=0.1,delay=50ms~20ms,duplicate=0.05".parse().unwrap();
        assert_eq!(s.drop, 0.1);
        assert_eq!(
            s.delay,
            Some(DelaySpec {
                fixed_ms: 50,
                jitter_ms: 20,
                p: 1.0
            })
        );
        let again: PacketSpec = s.to_string().parse().unwrap();
        assert_eq!(again, s);
        let sel: PacketSpec = "drop=1,kinds=prepare+commit,to=1+2".parse().unwrap();
        assert_eq!(sel.to_string().parse::<PacketSpec>().unwrap(), sel);
        let d = PacketSpec::default_faults();
        assert_eq!(d.to_string().parse::<PacketSpec>().unwrap(), d);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("drop=2", "between 0 and 1"),
            ("loss=0.1", "unknown packet fault"),
            ("delay=soon", "not a duration"),
            ("drop", "key=value"),
            ("links=some", "links=some"),
            ("to=a", "ids like 1+2"),
            ("kinds=vote", "unknown message type"),
        ] {
            let e = spec.parse::<PacketSpec>().unwrap_err().to_string();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }

    #[test]
    fn verdicts_follow_the_probabilities_and_the_seed() {
        let spec: PacketSpec = "drop=0.2,duplicate=0.1,links=replicas".parse().unwrap();
        let msg = Message::peer(Link::peer(0, 1), b"{}");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let verdicts: Vec<Verdict> = (0..10_000)
            .map(|_| spec.on_message(&msg, &mut rng))
            .collect();
        let drops = verdicts.iter().filter(|v| **v == Verdict::Drop).count();
        let dups = verdicts
            .iter()
            .filter(|v| **v == Verdict::Duplicate)
            .count();
        assert!(
            (1_800..2_200).contains(&drops),
            "{drops} drops of 10000 at p=0.2"
        );
        assert!(
            (600..1_000).contains(&dups),
            "{dups} duplicates of 10000 at p=0.8*0.1"
        );
        let mut rng2 = ChaCha8Rng::seed_from_u64(1);
        let again: Vec<Verdict> = (0..10_000)
            .map(|_| spec.on_message(&msg, &mut rng2))
            .collect();
        assert_eq!(verdicts, again, "same seed, same verdicts");
        let client = Message::request(Link::client(1), b"{}");
        assert_eq!(spec.on_message(&client, &mut rng), Verdict::Deliver);
    }
}
