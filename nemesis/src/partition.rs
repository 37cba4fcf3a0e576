//! Network partitions with the names Jepsen users know, and the [`Cut`] rule that
//! drops every message on the links a partition severs.
//!
//! A [`Topology`] is resolved against the cluster when the fault starts (the seeded
//! random stream picks nodes; `primary` asks the replicas) into a set of severed
//! directed links, the grudge.

use crate::error::{Error, Result};
use crate::link::{Endpoint, Link};
use crate::message::Message;
use crate::rule::{Rule, Verdict};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeSet;
use std::str::FromStr;

/// A partition's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Isolate one random node from the rest.
    One,
    /// Isolate the node that is primary when the fault starts.
    Primary,
    /// A random minority (⌊(n-1)/2⌋ nodes) against the rest.
    Minority,
    /// A random majority (⌊n/2⌋+1 nodes) against the rest.
    Majority,
    /// Fewer than a third of the nodes (at most f) against the rest.
    MinorityThird,
    /// Each node sees a majority, and no two nodes see the same one (a ring).
    MajoritiesRing,
    /// Two halves joined by one node that sees both.
    Bridge,
    /// The nodes in id order cut into two halves.
    Halves,
    /// The nodes shuffled and cut into two halves.
    RandomHalves,
    /// Asymmetric: one random node still reaches every other, but none reaches it.
    OneWay,
    /// A star around the node that is primary when the fault starts: it reaches every
    /// node and every node reaches it, but the others no longer reach each other.
    PrimaryStar,
    /// These nodes against the rest.
    Nodes(Vec<usize>),
}

impl Topology {
    /// Every named topology, for help texts and seeded choice.
    pub const NAMED: [&'static str; 11] = [
        "one",
        "primary",
        "minority",
        "majority",
        "minority-third",
        "majorities-ring",
        "bridge",
        "halves",
        "random-halves",
        "one-way",
        "primary-star",
    ];

    /// The name as written in specs.
    pub fn name(&self) -> String {
        match self {
            Topology::Nodes(nodes) => format!("nodes {nodes:?}"),
            other => serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }

    /// Checks node ids against the cluster size.
    pub fn validate(&self, n: usize) -> Result<()> {
        if let Topology::Nodes(nodes) = self {
            if nodes.is_empty() || nodes.len() >= n {
                return Err(Error::spec(
                    format!("{nodes:?}"),
                    format!(
                        "a partition needs between 1 and {} nodes on one side",
                        n - 1
                    ),
                ));
            }
            if let Some(bad) = nodes.iter().find(|&&i| i >= n) {
                return Err(Error::spec(
                    format!("{nodes:?}"),
                    format!("node {bad} is out of range: the cluster has nodes 0..{n}"),
                ));
            }
        }
        Ok(())
    }

    /// The severed links, and the components as node lists (for the history). The
    /// first component is the isolated side where there is one.
    pub fn resolve(
        &self,
        n: usize,
        primary: usize,
        rng: &mut ChaCha8Rng,
    ) -> (BTreeSet<Link>, Vec<Vec<usize>>) {
        let mut nodes: Vec<usize> = (0..n).collect();
        let two = |side: Vec<usize>| -> Vec<Vec<usize>> {
            let rest = (0..n).filter(|i| !side.contains(i)).collect();
            vec![side, rest]
        };
        let components = match self {
            Topology::One => two(vec![rng.gen_range(0..n)]),
            Topology::Primary => two(vec![primary % n]),
            Topology::Minority => {
                nodes.shuffle(rng);
                two(sorted(nodes[..(n - 1) / 2].to_vec()))
            }
            Topology::Majority => {
                nodes.shuffle(rng);
                two(sorted(nodes[..n / 2 + 1].to_vec()))
            }
            Topology::MinorityThird => {
                nodes.shuffle(rng);
                let k = (n.div_ceil(3) - 1).max(1);
                two(sorted(nodes[..k].to_vec()))
            }
            Topology::Halves => two(nodes[..n / 2].to_vec()),
            Topology::RandomHalves => {
                nodes.shuffle(rng);
                two(sorted(nodes[..n / 2].to_vec()))
            }
            Topology::Bridge => {
                nodes.shuffle(rng);
                let bridge = nodes[0];
                let rest = &nodes[1..];
                let half = rest.len() / 2;
                let mut a = rest[..half].to_vec();
                let mut b = rest[half..].to_vec();
                a.push(bridge);
                b.push(bridge);
                vec![sorted(a), sorted(b)]
            }
            Topology::Nodes(side) => two(sorted(side.clone())),
            Topology::PrimaryStar => {
                let center = primary % n;
                (0..n)
                    .filter(|&i| i != center)
                    .map(|i| sorted(vec![center, i]))
                    .collect()
            }
            Topology::MajoritiesRing => {
                nodes.shuffle(rng);
                let reach = (n / 2 + 1).saturating_sub(1).div_ceil(2);
                let mut cut = BTreeSet::new();
                let mut views = Vec::new();
                for (pa, &a) in nodes.iter().enumerate() {
                    let mut sees = vec![a];
                    for (pb, &b) in nodes.iter().enumerate() {
                        let d = pa.abs_diff(pb);
                        let d = d.min(n - d);
                        if a != b && d > reach {
                            cut.insert(Link::peer(b, a));
                        } else if a != b {
                            sees.push(b);
                        }
                    }
                    views.push(sorted(sees));
                }
                return (cut, views);
            }
            Topology::OneWay => {
                let deaf = rng.gen_range(0..n);
                let cut = (0..n)
                    .filter(|&i| i != deaf)
                    .map(|i| Link::peer(i, deaf))
                    .collect();
                return (cut, vec![vec![deaf]]);
            }
        };
        (cut_between(&components), components)
    }
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

/// Severs every replica link between two nodes that share no component.
fn cut_between(components: &[Vec<usize>]) -> BTreeSet<Link> {
    let n = components.iter().flatten().max().map_or(0, |m| m + 1);
    let mut cut = BTreeSet::new();
    for a in 0..n {
        for b in 0..n {
            let together = components.iter().any(|c| c.contains(&a) && c.contains(&b));
            if a != b && !together {
                cut.insert(Link::peer(a, b));
            }
        }
    }
    cut
}

impl FromStr for Topology {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "one" => Topology::One,
            "primary" => Topology::Primary,
            "minority" => Topology::Minority,
            "majority" => Topology::Majority,
            "minority-third" => Topology::MinorityThird,
            "majorities-ring" => Topology::MajoritiesRing,
            "bridge" => Topology::Bridge,
            "halves" => Topology::Halves,
            "random-halves" => Topology::RandomHalves,
            "one-way" => Topology::OneWay,
            "primary-star" => Topology::PrimaryStar,
            other => {
                return Err(Error::spec(
                    other,
                    format!(
                        "unknown partition; expected one of {}",
                        Topology::NAMED.join(", ")
                    ),
                ))
            }
        })
    }
}

/// Which replicas the clients can still reach during a partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientSide {
    /// Every replica (the partition is between replicas only).
    #[default]
    All,
    /// Only the first component (the isolated side): clients are cut off with it.
    Isolated,
}

impl FromStr for ClientSide {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "all" => Ok(ClientSide::All),
            "isolated" => Ok(ClientSide::Isolated),
            other => Err(Error::spec(
                other,
                "clients must be \"all\" or \"isolated\"",
            )),
        }
    }
}

/// Adds the client links that `side` severs to a grudge.
pub fn cut_clients(
    cut: &mut BTreeSet<Link>,
    side: ClientSide,
    components: &[Vec<usize>],
    n: usize,
) {
    if side == ClientSide::Isolated {
        if let Some(first) = components.first() {
            for j in (0..n).filter(|j| !first.contains(j)) {
                cut.insert(Link::client(j));
            }
        }
    }
}

/// Drops every message on a set of links.
#[derive(Clone, Debug)]
pub struct Cut {
    links: BTreeSet<Link>,
}

impl Cut {
    /// A rule severing `links`.
    pub fn new(links: BTreeSet<Link>) -> Self {
        Cut { links }
    }
}

impl Rule for Cut {
    fn on_message(&self, msg: &Message, _rng: &mut ChaCha8Rng) -> Verdict {
        if self.links.contains(&msg.link) {
            Verdict::Drop
        } else {
            Verdict::Deliver
        }
    }

    fn describe(&self) -> String {
        let links: Vec<String> = self.links.iter().map(|l| l.to_string()).collect();
        format!("cut {}", links.join(" "))
    }
}

/// Whether `from` can reach `to` under a grudge (for tests and reports).
pub fn reaches(cut: &BTreeSet<Link>, from: Endpoint, to: usize) -> bool {
    !cut.contains(&Link { from, to })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn resolve(t: Topology, n: usize) -> (BTreeSet<Link>, Vec<Vec<usize>>) {
        t.resolve(n, 1, &mut ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn isolating_one_node_cuts_both_directions_of_its_links() {
        let (cut, comps) = resolve(Topology::Primary, 4);
        assert_eq!(comps, vec![vec![1], vec![0, 2, 3]]);
        assert_eq!(cut.len(), 6);
        for j in [0, 2, 3] {
            assert!(cut.contains(&Link::peer(1, j)) && cut.contains(&Link::peer(j, 1)));
        }
        assert!(reaches(&cut, Endpoint::Replica(0), 2));
        assert!(
            reaches(&cut, Endpoint::Clients, 1),
            "clients are not cut by default"
        );
    }

    #[test]
    fn halves_and_majorities_have_the_expected_sizes() {
        let (_, comps) = resolve(Topology::Halves, 4);
        assert_eq!(comps, vec![vec![0, 1], vec![2, 3]]);
        let (_, comps) = resolve(Topology::Majority, 7);
        assert_eq!(comps[0].len(), 4);
        let (_, comps) = resolve(Topology::Minority, 7);
        assert_eq!(comps[0].len(), 3);
        let (_, comps) = resolve(Topology::MinorityThird, 7);
        assert_eq!(comps[0].len(), 2, "at most f = 2 of 7");
        let (_, comps) = resolve(Topology::MinorityThird, 4);
        assert_eq!(comps[0].len(), 1);
    }

    #[test]
    fn the_ring_gives_every_node_a_different_majority() {
        for n in [4, 5, 7] {
            let (cut, views) = resolve(Topology::MajoritiesRing, n);
            assert!(!cut.is_empty());
            let mut distinct = views.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), n, "{views:?}");
            for v in &views {
                assert!(v.len() > n / 2, "{v:?} is not a majority of {n}");
            }
        }
    }

    #[test]
    fn a_primary_star_keeps_only_the_links_of_the_primary() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (cut, comps) = Topology::PrimaryStar.resolve(4, 5, &mut rng);
        assert_eq!(comps, vec![vec![0, 1], vec![1, 2], vec![1, 3]]);
        for a in 0..4 {
            for b in (0..4).filter(|&b| b != a) {
                let kept = a == 1 || b == 1;
                assert_eq!(!cut.contains(&Link::peer(a, b)), kept, "{a}->{b}");
            }
        }
    }

    #[test]
    fn the_bridge_node_sees_both_sides_and_one_way_is_asymmetric() {
        let (cut, comps) = resolve(Topology::Bridge, 5);
        let bridge = *comps[0].iter().find(|i| comps[1].contains(i)).unwrap();
        for j in (0..5).filter(|&j| j != bridge) {
            assert!(!cut.contains(&Link::peer(bridge, j)));
            assert!(!cut.contains(&Link::peer(j, bridge)));
        }
        let (cut, comps) = resolve(Topology::OneWay, 4);
        let deaf = comps[0][0];
        for j in (0..4).filter(|&j| j != deaf) {
            assert!(cut.contains(&Link::peer(j, deaf)));
            assert!(!cut.contains(&Link::peer(deaf, j)));
        }
    }

    #[test]
    fn clients_can_be_cut_off_with_the_isolated_side() {
        let (mut cut, comps) = resolve(Topology::Primary, 4);
        cut_clients(&mut cut, ClientSide::Isolated, &comps, 4);
        assert!(reaches(&cut, Endpoint::Clients, 1));
        assert!(!reaches(&cut, Endpoint::Clients, 0));
    }

    #[test]
    fn node_lists_are_checked_against_the_cluster() {
        assert!(Topology::Nodes(vec![5]).validate(4).is_err());
        assert!(Topology::Nodes(vec![0, 1, 2, 3]).validate(4).is_err());
        assert!(Topology::Nodes(vec![0, 1]).validate(4).is_ok());
        assert!("sideways".parse::<Topology>().is_err());
    }
}
