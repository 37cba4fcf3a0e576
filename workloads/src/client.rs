//! The [`Client`] a workload drives, and [`PbftClient`], which performs operations
//! through the replica crate's PBFT client (f+1 matching signed replies).

use crate::error::Result;
use crate::invocation::{Completion, Func, Invocation};
use ed25519_dalek::SigningKey;
use replica::{ClientError, ClusterConfig, OpResult};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Performs one operation at a time against the system under test.
pub trait Client: Send {
    /// Performs `invocation`, giving up after `timeout` with an `info` completion.
    fn invoke(
        &mut self,
        invocation: &Invocation,
        timeout: Duration,
    ) -> impl Future<Output = Completion> + Send;
}

/// A [`Client`] backed by [`replica::Client`].
///
/// A PBFT client identity needs increasing request timestamps, so one `PbftClient` lives
/// as long as its worker slot; logical processes come and go on top of it.
#[derive(Debug)]
pub struct PbftClient {
    inner: replica::Client,
}

impl PbftClient {
    /// A client with identity `id` (listed in the cluster file with `key`'s public key)
    /// that reaches replica `i` at its `listen` address.
    pub fn new(config: &ClusterConfig, id: u64, key: SigningKey) -> Result<Self> {
        Ok(PbftClient {
            inner: replica::Client::new(config, id, key)?,
        })
    }

    /// The same, reaching replica `i` at `addrs[i]` (e.g. through a proxy).
    pub fn with_addrs(
        config: &ClusterConfig,
        id: u64,
        key: SigningKey,
        addrs: Vec<String>,
    ) -> Result<Self> {
        Ok(PbftClient {
            inner: replica::Client::with_addrs(config, id, key, addrs)?,
        })
    }

    /// Calls `hook` with `(client, timestamp)` of every request before it is sent.
    pub fn on_request(&mut self, hook: replica::client::RequestHook) {
        self.inner.on_request(hook);
    }

    /// Switches a seeded client bug on (self-test builds only; ignored otherwise).
    pub fn set_bug(&mut self, bug: replica::bugs::ClientBug) {
        self.inner.set_bug(bug);
    }

    /// The client identity.
    pub fn id(&self) -> u64 {
        self.inner.protocol().id()
    }

    /// `(client id, timestamp)` of the newest request sent, as replicas log it.
    pub fn last_request(&self) -> Option<(u64, u64)> {
        let p = self.inner.protocol();
        (p.last_timestamp() > 0).then(|| (p.id(), p.last_timestamp()))
    }
}

impl Client for PbftClient {
    async fn invoke(&mut self, invocation: &Invocation, timeout: Duration) -> Completion {
        let result = self.inner.invoke(invocation.operation(), timeout).await;
        completion(invocation, result)
    }
}

/// How a PBFT client's answer reads in the history.
///
/// A timeout is indeterminate (`info`); a rejection by more than f replicas, or a cas that
/// did not swap, definitely did not take effect (`fail`); a result of the wrong kind is a
/// broken reply, indeterminate.
pub fn completion(
    invocation: &Invocation,
    result: std::result::Result<OpResult, ClientError>,
) -> Completion {
    let value = invocation.value.clone();
    match (invocation.f, result) {
        (Func::Read, Ok(OpResult::Read { value })) => Completion::ok(value),
        (Func::Write, Ok(OpResult::Write)) | (Func::Append, Ok(OpResult::Append)) => {
            Completion::ok(value)
        }
        (Func::Cas, Ok(OpResult::Cas { ok: true })) => Completion::ok(value),
        (Func::Cas, Ok(OpResult::Cas { ok: false })) => Completion::fail(value, "cas mismatch"),
        (f, Ok(other)) => {
            tracing::warn!(%f, result = ?other, "reply of the wrong kind");
            Completion::info(unknown(f, value), format!("unexpected result {other:?}"))
        }
        (f, Err(ClientError::Timeout(_))) => Completion::info(unknown(f, value), "timeout"),
        (_, Err(ClientError::Rejected(why))) => Completion::fail(value, format!("rejected: {why}")),
        (f, Err(e @ ClientError::Config(_))) => Completion::info(unknown(f, value), e.to_string()),
    }
}

/// The value an indeterminate completion records: the invoke value, or nothing for a read.
fn unknown(f: Func, value: Value) -> Value {
    match f {
        Func::Read => Value::Null,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::OpType;
    use serde_json::json;

    #[test]
    fn answers_map_to_ok_fail_info() {
        let cas = Invocation::cas("k", json!(1), json!(2));
        let swapped = completion(&cas, Ok(OpResult::Cas { ok: true }));
        assert_eq!((swapped.kind, swapped.value), (OpType::Ok, json!([1, 2])));
        let missed = completion(&cas, Ok(OpResult::Cas { ok: false }));
        assert_eq!(missed.kind, OpType::Fail);
        let read = completion(
            &Invocation::read("k"),
            Ok(OpResult::Read { value: json!([3]) }),
        );
        assert_eq!((read.kind, read.value), (OpType::Ok, json!([3])));
        let lost = completion(
            &Invocation::write("k", json!(4)),
            Err(ClientError::Timeout(Duration::from_secs(1))),
        );
        assert_eq!((lost.kind, lost.value), (OpType::Info, json!(4)));
        let refused = completion(
            &Invocation::append("k", json!(4)),
            Err(ClientError::Rejected("no".into())),
        );
        assert_eq!(refused.kind, OpType::Fail);
        let odd = completion(&Invocation::read("k"), Ok(OpResult::Write));
        assert_eq!((odd.kind, odd.value), (OpType::Info, Value::Null));
    }
}
