//! What one simulation runs: the cluster, the workload, the network, the faults, and
//! the seed every random choice derives from.

use crate::error::{Error, Result};
use nemesis::Schedule;
use replica::bugs::Bugs;
use replica::ProtocolConfig;
use workloads::{GeneratorConfig, WorkloadKind};

/// The parameters of one simulation.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed: keys, network, workload, fault targets and Byzantine choices all draw
    /// from it, each on its own ChaCha stream.
    pub seed: u64,
    /// Fault bound: n = 3f+1 replicas.
    pub f: usize,
    /// The replicas' protocol parameters (planted bugs included).
    pub params: ProtocolConfig,
    /// Client worker slots (each one PBFT client identity).
    pub clients: usize,
    /// The operations the clients issue.
    pub workload: GeneratorConfig,
    /// Operations per second over all clients (think time between a completion and
    /// the next invocation is drawn uniformly around `clients / rate`).
    pub rate: f64,
    /// Length of the workload phase (virtual ms); every fault is healed at its end.
    pub time_limit_ms: u64,
    /// After the heal: how long the cluster gets to recover before the final reads.
    pub recovery_ms: u64,
    /// How long the final reads may take before the run ends anyway.
    pub final_reads_ms: u64,
    /// After the final reads, the replicas get as long to converge as a real run gives
    /// them (`checker::oracles::settle_bound`: `(2^(f+2) - 1) T + 15 s`, T the quorum's
    /// view-change timeout in force, at most a minute), or this long if longer.
    pub settle_ms: u64,
    /// The faults, in the nemesis's vocabulary.
    pub schedule: Schedule,
    /// One-way network latency between any two endpoints: uniform in this range (µs).
    pub latency_us: (u64, u64),
    /// The replicas' clock tick period (ms), as the server's tick task.
    pub tick_ms: u64,
    /// A client gives up on an operation after this long (it is then `info`).
    pub op_timeout_ms: u64,
    /// A client re-broadcasts its request to every replica this often.
    pub client_retransmit_ms: u64,
}

impl SimConfig {
    /// The default simulation of `seed`: 4 replicas, 5 clients doing read/write/cas on
    /// 3 keys at 50 ops/s for 20 s, no faults.
    pub fn new(seed: u64) -> SimConfig {
        let mut workload = GeneratorConfig::new(WorkloadKind::Kv);
        workload.keys = 3;
        SimConfig {
            seed,
            f: 1,
            params: ProtocolConfig {
                checkpoint_interval: 16,
                log_window: 32,
                ..ProtocolConfig::default()
            },
            clients: 5,
            workload,
            rate: 50.0,
            time_limit_ms: 20_000,
            recovery_ms: 3_000,
            final_reads_ms: 10_000,
            settle_ms: 0,
            schedule: Schedule::none(),
            latency_us: (200, 2_000),
            tick_ms: 5,
            op_timeout_ms: 5_000,
            client_retransmit_ms: 1_000,
        }
    }

    /// The same with planted replica bugs switched on (they stay off in builds without
    /// the `seeded-bugs` feature).
    pub fn with_bugs(mut self, bugs: Bugs) -> SimConfig {
        self.params.bugs = bugs;
        self
    }

    /// Number of replicas.
    pub fn n(&self) -> usize {
        3 * self.f + 1
    }

    /// Checks the parameters and the schedule against the cluster.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, message: &str| {
            Err(Error::Invalid {
                field,
                message: message.to_string(),
            })
        };
        if self.f == 0 {
            return bad("f", "need f >= 1");
        }
        if self.clients == 0 {
            return bad("clients", "need at least one client");
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad("rate", "must be a positive number of ops/s");
        }
        if self.latency_us.0 > self.latency_us.1 {
            return bad("latency_us", "the minimum is above the maximum");
        }
        if self.tick_ms == 0 || self.op_timeout_ms == 0 || self.client_retransmit_ms == 0 {
            return bad(
                "tick_ms",
                "tick, timeout and retransmit periods must be > 0",
            );
        }
        self.params.validate().map_err(|e| Error::Invalid {
            field: "params",
            message: e.to_string(),
        })?;
        self.workload.validate()?;
        self.schedule.validate(self.n(), self.time_limit_ms)?;
        Ok(())
    }
}
