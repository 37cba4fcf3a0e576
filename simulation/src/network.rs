//! The simulated network: latency drawn from a seeded stream, the links that the
//! partitions in force sever, and the packet faults in force. Partitions and packet
//! faults are the nemesis's own values ([`nemesis::Topology`] resolved into severed
//! links, [`nemesis::PacketSpec`] asked for a verdict per message), so a schedule means
//! the same here as through the proxy.

use bytes::Bytes;
use nemesis::message::Message;
use nemesis::{Link, PacketSpec, Rule, Verdict};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Extra delay (ns) of a message the packet rules hold back (reorder): the proxy holds
/// it until the next message on its link, which here is approximated by a delay past
/// the latency range.
const HOLD_NS: u64 = 10_000_000;

/// The network's state.
#[derive(Debug)]
pub struct Network {
    rng: ChaCha8Rng,
    latency_ns: (u64, u64),
    /// Severed links per partition window in force.
    cuts: BTreeMap<usize, BTreeSet<Link>>,
    /// Packet faults per window in force, asked in window order.
    packets: BTreeMap<usize, PacketSpec>,
    /// The last message per link (what `replay` sends again).
    recent: BTreeMap<Link, Bytes>,
}

impl Network {
    /// A network with latency uniform in `latency_us` and the random stream `rng`.
    pub fn new(rng: ChaCha8Rng, latency_us: (u64, u64)) -> Network {
        Network {
            rng,
            latency_ns: (latency_us.0 * 1_000, latency_us.1 * 1_000),
            cuts: BTreeMap::new(),
            packets: BTreeMap::new(),
            recent: BTreeMap::new(),
        }
    }

    /// Severs `links` while window `window` is in force.
    pub fn partition(&mut self, window: usize, links: BTreeSet<Link>) {
        self.cuts.insert(window, links);
    }

    /// Applies `spec` while window `window` is in force.
    pub fn packet_faults(&mut self, window: usize, spec: PacketSpec) {
        self.packets.insert(window, spec);
    }

    /// Heals whatever window `window` put in force.
    pub fn heal(&mut self, window: usize) {
        self.cuts.remove(&window);
        self.packets.remove(&window);
    }

    /// Heals everything.
    pub fn heal_all(&mut self) {
        self.cuts.clear();
        self.packets.clear();
    }

    /// Whether a partition in force severs `link`.
    pub fn is_cut(&self, link: Link) -> bool {
        self.cuts.values().any(|c| c.contains(&link))
    }

    /// One draw of the latency (ns).
    pub fn latency(&mut self) -> u64 {
        self.rng.gen_range(self.latency_ns.0..=self.latency_ns.1)
    }

    /// What becomes of `body` sent on `link` (`is_request`: a client request): the
    /// copies delivered, each with its delay (ns). Empty: lost.
    pub fn fate(&mut self, link: Link, is_request: bool, body: &Bytes) -> Vec<(u64, Bytes)> {
        if self.is_cut(link) {
            return Vec::new();
        }
        let mut verdict = Verdict::Deliver;
        if !self.packets.is_empty() {
            let msg = if is_request {
                Message::request(link, body)
            } else {
                Message::peer(link, body)
            };
            for spec in self.packets.values() {
                verdict = spec.on_message(&msg, &mut self.rng);
                if verdict != Verdict::Deliver {
                    break;
                }
            }
        }
        let earlier = self.recent.insert(link, body.clone());
        let first = self.latency();
        match verdict {
            Verdict::Deliver => vec![(first, body.clone())],
            Verdict::Drop => Vec::new(),
            Verdict::Delay(d) => vec![(first + d.as_nanos() as u64, body.clone())],
            Verdict::Duplicate => {
                let second = self.latency();
                vec![(first, body.clone()), (second, body.clone())]
            }
            Verdict::Hold => vec![(first + HOLD_NS, body.clone())],
            Verdict::Replay => {
                let mut out = vec![(first, body.clone())];
                if let Some(e) = earlier {
                    let second = self.latency();
                    out.push((second, e));
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use rand::SeedableRng;
    use replica::crypto::{Digest, Signed};
    use replica::messages::{Commit, PeerMessage, Prepare};

    fn body(msg: PeerMessage) -> Bytes {
        Bytes::from(serde_json::to_vec(&msg).unwrap())
    }

    #[test]
    fn packet_faults_keep_their_kinds_and_to_filters() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let prepare = body(PeerMessage::Prepare(Signed::sign(
            Prepare {
                view: 0,
                seq: 1,
                digest: Digest::of(b"x"),
                replica: 0,
            },
            &key,
        )));
        let commit = body(PeerMessage::Commit(Signed::sign(
            Commit {
                view: 0,
                seq: 1,
                digest: Digest::of(b"x"),
                replica: 0,
            },
            &key,
        )));
        let mut net = Network::new(ChaCha8Rng::seed_from_u64(1), (100, 200));
        net.packet_faults(0, "drop=1,kinds=prepare,to=1".parse().unwrap());
        assert!(net.fate(Link::peer(0, 1), false, &prepare).is_empty());
        assert_eq!(net.fate(Link::peer(0, 2), false, &prepare).len(), 1);
        assert_eq!(net.fate(Link::peer(0, 1), false, &commit).len(), 1);
        net.heal(0);
        let copies = net.fate(Link::peer(0, 1), false, &prepare);
        assert_eq!(copies.len(), 1);
        assert!((100_000..=200_000).contains(&copies[0].0));
    }

    #[test]
    fn partitions_cut_their_links_until_healed() {
        let mut net = Network::new(ChaCha8Rng::seed_from_u64(1), (100, 200));
        net.partition(3, [Link::peer(0, 1), Link::client(0)].into_iter().collect());
        let b = Bytes::from_static(b"{}");
        assert!(net.fate(Link::peer(0, 1), false, &b).is_empty());
        assert!(net.fate(Link::client(0), true, &b).is_empty());
        assert_eq!(net.fate(Link::peer(1, 0), false, &b).len(), 1);
        net.heal(3);
        assert_eq!(net.fate(Link::peer(0, 1), false, &b).len(), 1);
    }
}
