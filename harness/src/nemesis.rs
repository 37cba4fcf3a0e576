//! The seam for fault injection (the nemesis issue fills it in).
//!
//! A [`Nemesis`] runs alongside the clients: it injects and heals faults through the
//! [`Cluster`], records each as a `nemesis` operation through the recorder, and names the
//! fault in force in [`CurrentFault`] for the progress display. `harness run` starts it
//! when the workload starts and stops it before the final reads; it must end healed.

use crate::cluster::Cluster;
use crate::recorder::RecorderHandle;
use crate::shutdown::Stop;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// The fault in force, as shown by the progress display ("none" when healed).
#[derive(Debug, Clone)]
pub(crate) struct CurrentFault {
    name: Arc<Mutex<String>>,
}

impl Default for CurrentFault {
    fn default() -> Self {
        CurrentFault {
            name: Arc::new(Mutex::new("none".into())),
        }
    }
}

impl CurrentFault {
    /// The fault's name.
    pub(crate) fn get(&self) -> String {
        self.name.lock().expect("fault lock poisoned").clone()
    }
}

/// What a nemesis works with.
#[derive(Debug)]
#[allow(dead_code, reason = "read by the fault schedules of the nemesis issue")]
pub(crate) struct NemesisContext {
    /// Records `nemesis` operations (process `Process::Nemesis`).
    pub(crate) recorder: RecorderHandle,
    /// The replicas to fault.
    pub(crate) cluster: Arc<Cluster>,
    /// Where to name the fault in force.
    pub(crate) fault: CurrentFault,
    /// Set when the workload ends: heal and return.
    pub(crate) stop: Stop,
}

/// A fault schedule.
pub(crate) trait Nemesis: Send {
    /// Runs until `ctx.stop` is set, then heals every fault and returns.
    fn run(
        self: Box<Self>,
        ctx: NemesisContext,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
}
