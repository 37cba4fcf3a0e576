//! The task that owns the engine: it feeds inputs to `Replica::handle`, writes the
//! `Persist` outputs (group commit over all inputs drained at once), and only then
//! sends messages, answers clients and records executed batches.

use crate::core::rejection::{Rejection, TaggedCounts};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::core::{Input, Output, Replica, ReplicaStatus};
use crate::crypto::Signed;
use crate::error::Result;
use crate::messages::{ClientId, Reply, Request};
use crate::storage::{LogEntry, Storage};
use crate::verifier::Verified;

use super::network::Network;

/// A message to the engine task.
#[derive(Debug)]
pub enum CoreMsg {
    /// An engine input.
    Input(Input),
    /// A peer message whose sender labelled it (`x-pbft-tag`): counted per tag.
    Tagged {
        /// The verified peer message.
        input: Input,
        /// The sender's label.
        tag: String,
    },
    /// A peer message the server refused before the engine saw it (format or
    /// signature), for the counts.
    Refused {
        /// Why.
        why: Rejection,
        /// The sender's label, if any.
        tag: Option<String>,
    },
    /// A client request with the channel for this replica's reply.
    Request {
        /// The verified request.
        request: Verified<Signed<Request>>,
        /// Where to send the reply.
        reply_to: oneshot::Sender<Signed<Reply>>,
    },
    /// Asks for the status.
    Status(oneshot::Sender<ReplicaStatus>),
    /// Asks for the executed history.
    Log(oneshot::Sender<Vec<LogEntry>>),
}

/// How many queued inputs are handled before one group commit.
const MAX_DRAIN: usize = 512;
const TICK: Duration = Duration::from_millis(5);

/// What the engine task owns.
#[derive(Debug)]
pub struct Node {
    /// The protocol engine.
    pub replica: Replica,
    /// This replica's key, to sign client replies.
    pub key: SigningKey,
    /// The WAL and snapshots.
    pub storage: Storage,
    /// Executed history (for `GET /log`).
    pub history: Vec<LogEntry>,
    /// Outgoing peer messages.
    pub net: Network,
    /// The injectable clock.
    pub clock: Arc<Clock>,
    /// A sender to our own input channel (for the ticker and timers).
    pub tx: mpsc::Sender<CoreMsg>,
}

/// Runs the engine until the channel closes or storage fails.
pub async fn run_core(node: Node, mut rx: mpsc::Receiver<CoreMsg>) -> Result<()> {
    let Node {
        mut replica,
        key,
        mut storage,
        mut history,
        net,
        clock,
        tx,
    } = node;
    tokio::spawn(ticker(clock.clone(), tx.clone()));
    let mut waiters: HashMap<(ClientId, u64), Vec<oneshot::Sender<Signed<Reply>>>> = HashMap::new();
    let mut timer_at: Option<u64> = None;
    let mut batch = Vec::with_capacity(MAX_DRAIN);
    // What the server refused, and the counts per sender tag.
    let mut refused: BTreeMap<Rejection, u64> = BTreeMap::new();
    let mut tagged = TaggedCounts::default();
    while rx.recv_many(&mut batch, MAX_DRAIN).await > 0 {
        let mut outputs = Vec::new();
        for msg in batch.drain(..) {
            match msg {
                CoreMsg::Input(input) => {
                    if let Input::Tick { now_ms } = input {
                        if timer_at.is_some_and(|t| t <= now_ms) {
                            timer_at = None;
                        }
                        waiters.retain(|_, v| {
                            v.retain(|w| !w.is_closed());
                            !v.is_empty()
                        });
                    }
                    outputs.extend(replica.handle(input));
                }
                CoreMsg::Request { request, reply_to } => {
                    let b = &request.get().body;
                    waiters
                        .entry((b.client, b.timestamp))
                        .or_default()
                        .push(reply_to);
                    outputs.extend(replica.handle(Input::Request(request)));
                }
                CoreMsg::Tagged { input, tag } => {
                    tagged.received(&tag);
                    let outs = replica.handle(input);
                    for o in &outs {
                        if let Output::Rejected { why, .. } = o {
                            tagged.rejected(&tag, *why);
                        }
                    }
                    outputs.extend(outs);
                }
                CoreMsg::Refused { why, tag } => {
                    *refused.entry(why).or_default() += 1;
                    if let Some(tag) = tag {
                        tagged.received(&tag);
                        tagged.rejected(&tag, why);
                    }
                }
                CoreMsg::Status(tx) => {
                    let mut status = replica.status();
                    for (why, n) in &refused {
                        status.rejected += n;
                        *status.rejections.entry(why.name().to_string()).or_default() += n;
                    }
                    status.tagged = tagged.clone();
                    let _ = tx.send(status);
                }
                CoreMsg::Log(tx) => {
                    let _ = tx.send(history.clone());
                }
            }
        }
        for o in &outputs {
            if let Output::Persist(record) = o {
                storage.append(record)?;
            }
        }
        storage.flush()?;
        for o in outputs {
            match o {
                Output::Persist(_) => {}
                Output::Send { to, msg } => net.send(to, &msg),
                Output::Broadcast(msg) => net.broadcast(&msg),
                Output::Reply { client, reply } => {
                    if let Some(ws) = waiters.remove(&(client, reply.timestamp)) {
                        let reply = Signed::sign(reply, &key);
                        for w in ws {
                            let _ = w.send(reply.clone());
                        }
                    }
                }
                Output::Executed(entry) => history.push(entry),
                Output::SetTimer { at_ms } => {
                    if !matches!(timer_at, Some(t) if t <= at_ms) {
                        timer_at = Some(at_ms);
                        let (clock, tx) = (clock.clone(), tx.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(clock.real_delay_until(at_ms)).await;
                            let _ = tx
                                .send(CoreMsg::Input(Input::Tick {
                                    now_ms: clock.now_ms(),
                                }))
                                .await;
                        });
                    }
                }
                Output::Rejected { kind, why, reason } => {
                    tracing::debug!(kind, why = why.name(), %reason, "message rejected by the protocol");
                }
            }
        }
    }
    storage.sync()
}

async fn ticker(clock: Arc<Clock>, tx: mpsc::Sender<CoreMsg>) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let tick = CoreMsg::Input(Input::Tick {
            now_ms: clock.now_ms(),
        });
        if tx.send(tick).await.is_err() {
            return;
        }
    }
}
