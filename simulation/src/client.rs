//! One simulated client worker slot: a real [`ClientProtocol`] (signed requests, f+1
//! matching signed replies), a seeded operation generator, and the Jepsen process
//! bookkeeping (a process whose operation timed out is retired; a fresh id replaces
//! it). The simulation moves its bytes and calls it when something happens.

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use replica::crypto::Signed;
use replica::messages::{ReplicaId, Reply, Request};
use replica::{ClientError, ClientProtocol, ClusterConfig};
use std::collections::VecDeque;
use std::time::Duration;
use workloads::client::completion;
use workloads::{Completion, Generator, Invocation};

use crate::error::Result;

/// The operation a client waits for.
#[derive(Clone, Debug)]
pub struct Pending {
    /// What was invoked.
    pub invocation: Invocation,
    /// The request's timestamp (its identity with the client id).
    pub timestamp: u64,
    /// The signed request, encoded.
    pub body: Bytes,
}

/// One client worker slot.
#[derive(Debug)]
pub struct SimClient {
    /// The slot number.
    pub slot: usize,
    /// The Jepsen process id now performing operations in this slot.
    pub process: u64,
    proto: ClientProtocol,
    generator: Generator,
    think: ChaCha8Rng,
    /// The operation in flight.
    pub pending: Option<Pending>,
    /// Operations left to invoke after the workload phase (the final reads).
    pub final_ops: VecDeque<Invocation>,
    slots: u64,
}

impl SimClient {
    /// Slot `slot` of `slots`, PBFT client `id` with `key`, drawing operations from
    /// `generator` and think times from `think`.
    pub fn new(
        config: &ClusterConfig,
        slot: usize,
        slots: usize,
        key: SigningKey,
        generator: Generator,
        think: ChaCha8Rng,
    ) -> Result<SimClient> {
        Ok(SimClient {
            slot,
            process: slot as u64,
            proto: ClientProtocol::new(config, slot as u64, key)?,
            generator,
            think,
            pending: None,
            final_ops: VecDeque::new(),
            slots: slots as u64,
        })
    }

    /// The PBFT client id.
    pub fn id(&self) -> u64 {
        self.proto.id()
    }

    /// The next operation of the workload phase.
    pub fn next_invocation(&mut self) -> Invocation {
        self.generator.next_invocation()
    }

    /// A think time (ns) around `mean_ns`: uniform in `[0, 2 mean]`.
    pub fn think_ns(&mut self, mean_ns: u64) -> u64 {
        self.think.gen_range(0..=2 * mean_ns.max(1))
    }

    /// Starts `invocation` at virtual time `now_ns`; returns the encoded request and the
    /// replicas to send it to first (the primary and f others, as the real client).
    pub fn start(&mut self, invocation: Invocation, now_ns: u64) -> (Bytes, Vec<ReplicaId>) {
        let request: Signed<Request> = self.proto.start(invocation.operation(), now_ns / 1_000);
        let body = Bytes::from(serde_json::to_vec(&request).unwrap_or_default());
        self.pending = Some(Pending {
            invocation,
            timestamp: request.body.timestamp,
            body: body.clone(),
        });
        (body, self.first_targets())
    }

    /// The primary, then f more: those of the last quorum, else a rotation by client
    /// id (the real client's choice).
    fn first_targets(&self) -> Vec<ReplicaId> {
        let n = self.proto.n() as u64;
        let f = self.proto.f() as u64;
        let primary = self.proto.primary();
        let mut targets = vec![primary];
        let rotation = (0..n - 1)
            .map(|k| ((primary as u64 + 1 + (self.proto.id() + k) % (n - 1)) % n) as ReplicaId);
        for r in self.proto.last_quorum().iter().copied().chain(rotation) {
            if targets.len() as u64 > f {
                break;
            }
            if !targets.contains(&r) {
                targets.push(r);
            }
        }
        targets
    }

    /// Takes a reply; the completion once f+1 matching replies came for the pending
    /// operation.
    pub fn on_reply(&mut self, body: &[u8]) -> Option<(Invocation, Completion)> {
        let reply: Signed<Reply> = serde_json::from_slice(body).ok()?;
        let pending = self.pending.as_ref()?;
        if reply.body.timestamp != pending.timestamp {
            return None;
        }
        let result = self.proto.on_reply(&reply)?;
        let pending = self.pending.take()?;
        let c = completion(&pending.invocation, Ok(result));
        Some((pending.invocation, c))
    }

    /// Gives up on the pending operation with timestamp `timestamp`: an `info`
    /// completion, and the process is retired (a fresh one takes the slot).
    pub fn time_out(
        &mut self,
        timestamp: u64,
        after: Duration,
    ) -> Option<(Invocation, Completion)> {
        if self.pending.as_ref()?.timestamp != timestamp {
            return None;
        }
        let pending = self.pending.take()?;
        let c = completion(&pending.invocation, Err(ClientError::Timeout(after)));
        self.process += self.slots;
        Some((pending.invocation, c))
    }
}
