//! Deterministic step tests of the sans-IO protocol core: four `Replica`s (f = 1)
//! driven through an in-test network (`net`) with a simulated clock, asserting on
//! protocol state and on the exact actions each step emits.
//!
//! One concept per file:
//! - `normal`: REQUEST -> PRE-PREPARE -> PREPARE -> COMMIT -> execute -> REPLY, and
//!   agreement on one commit order under seeded reordering;
//! - `batching`: batches, the batch delay and the pipeline at the primary;
//! - `checkpoints`: checkpoint stability, watermarks, garbage collection, and
//!   catching up by state transfer;
//! - `view_change`: timers, VIEW-CHANGE, NEW-VIEW contents and installation;
//! - `view_churn`: re-executing O after a NEW-VIEW is no progress of the new view
//!   (the timeout stays doubled), so slow views do not churn forever;
//! - `clients`: exactly-once execution, stored replies, relays, f+1 replies;
//! - `rejection`: forged, duplicate and out-of-range messages are refused.
//!
//! Helpers: `net` (the cluster and its network), `actions` (reading outputs),
//! `forge` (messages signed by a test playing a Byzantine replica).
//! `PBFT_STEP_SEED=<n>` reruns the tests with seed `n`; a failing test prints its seed.

/// The test modules, in `tests/step/`.
mod step {
    mod actions;
    mod forge;
    mod net;

    mod batching;
    mod checkpoints;
    mod clients;
    mod normal;
    mod rejection;
    mod view_change;
    mod view_churn;
}
