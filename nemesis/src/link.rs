//! Who talks to whom. Every message crosses one directed [`Link`], from an
//! [`Endpoint`] (a replica, or the clients) to a replica.

use serde::{Serialize, Serializer};
use std::fmt;

/// The sending side of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// Replica `i`.
    Replica(usize),
    /// The workload's clients (they share one listener per replica).
    Clients,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Replica(i) => write!(f, "{i}"),
            Endpoint::Clients => f.write_str("clients"),
        }
    }
}

/// A directed link: messages from `from` to replica `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Link {
    /// The sender.
    pub from: Endpoint,
    /// The receiving replica.
    pub to: usize,
}

impl Link {
    /// Replica `from` to replica `to`.
    pub fn peer(from: usize, to: usize) -> Self {
        Link {
            from: Endpoint::Replica(from),
            to,
        }
    }

    /// The clients to replica `to`.
    pub fn client(to: usize) -> Self {
        Link {
            from: Endpoint::Clients,
            to,
        }
    }

    /// Every directed link of an `n`-replica cluster: replica to replica, then clients
    /// to each replica.
    pub fn all(n: usize) -> Vec<Link> {
        let mut links = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    links.push(Link::peer(i, j));
                }
            }
        }
        links.extend((0..n).map(Link::client));
        links
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.from, self.to)
    }
}

impl Serialize for Link {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
