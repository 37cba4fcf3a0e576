//! Driving a run: the steps between the run directory and the judgement, in order.
//!
//! 1. [`start`]: the recorder (history streamed to disk) and the cluster behind the
//!    proxy, ready.
//! 2. [`Running::spawn`]: the workers at the target rate, the progress display, the
//!    crash watch, the safety watch (`--stop-on-violation`) and the nemesis.
//! 3. [`Running::workload`]: the time limit (or a signal, or a violation), the final
//!    heal, the recovery window after it when faults ran, and then a bounded wait
//!    until the cluster shows progress.
//! 4. [`Running::final_reads`]: the workers stop and every key is read once more, with
//!    a timeout that covers the view-change back-off in force.
//! 5. [`Running::wind_down`]: a bounded wait until every replica has executed the same
//!    prefix (the convergence oracle's evidence), every replica checked to be running
//!    and answering, its log fetched, the watches stopped, the cluster stopped,
//!    `proxy.json` and `schedule.json` written, the history closed.

use super::cluster::{Cluster, ClusterSpec};
use super::judge::ClusterEvidence;
use super::limiter::Limiter;
use super::nemesis::{self as faults, CurrentFault, NemesisContext};
use super::progress::Progress;
use super::record::proxy_record;
use super::recorder::{Recorder, RecorderHandle};
use super::shutdown::{interrupts, stop_flag, Stop, StopSender};
use super::status::{self, Timeouts};
use super::watch::{watch_safety, Watched};
use super::workers::{final_reads, run_slot, Shared};
use crate::config::RunConfig;
use anyhow::{Context, Result};
use checker::oracles::ExecutedRequest;
use nemesis::{AppliedAction, Proxy};
use results::record::{Crash, FirstViolation, ReplicaExit, PROXY_FILE};
use results::stats::{Stats, Window};
use results::store::write_json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::{Generator, PbftClient};

/// How long replicas get to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often the crash watch looks at the replica processes.
const CRASH_WATCH_EVERY: Duration = Duration::from_millis(250);
/// How long a run stopped on a violation waits for the replicas to converge.
const STOPPED_EARLY_SETTLE: Duration = Duration::from_secs(2);

/// What the workload phase produced, for the judgement.
pub(crate) struct Driven {
    /// Counts and latency of the whole history.
    pub(crate) stats: Stats,
    /// The workload phase, in history time.
    pub(crate) window: Window,
    /// How each replica process ended.
    pub(crate) replicas: Vec<ReplicaExit>,
    /// Whether a signal cut the run short.
    pub(crate) interrupted: bool,
    /// What the nemesis did.
    pub(crate) applied: Vec<AppliedAction>,
    /// When the final reads began (history ns), if they ran.
    pub(crate) final_reads_from: Option<u64>,
    /// What the replicas said at the end.
    pub(crate) evidence: ClusterEvidence,
    /// Replicas that exited on their own.
    pub(crate) crashes: Vec<Crash>,
    /// Every request the clients sent.
    pub(crate) invoked: BTreeSet<ExecutedRequest>,
    /// The proxy, with its final counters (`None` with `--no-proxy`).
    pub(crate) proxy: Option<Arc<Proxy>>,
    /// What the safety watch saw first.
    pub(crate) first_violation: Option<FirstViolation>,
    /// The quorum's view-change timeout over the run.
    pub(crate) timeouts: Timeouts,
}

/// Runs the workload against a fresh cluster and closes the history.
pub(crate) async fn drive(config: &RunConfig, run_dir: &Path) -> Result<Driven> {
    let (recorder, cluster, interrupt) = start(config, run_dir).await?;
    let mut running = Running::spawn(config, &recorder, cluster, interrupt)?;
    running.workload(config).await?;
    running.final_reads(config).await?;
    running.wind_down(config, run_dir, recorder).await
}

/// Step 1: the history's recorder, and the cluster, ready (unless a signal comes
/// first).
async fn start(config: &RunConfig, run_dir: &Path) -> Result<(Recorder, Arc<Cluster>, Stop)> {
    let interrupt = interrupts()?;
    let history_start = Instant::now();
    let recorder = Recorder::start(&run_dir.join("history.jsonl"), history_start)?;
    let s = &config.settings;
    let spec = ClusterSpec {
        f: s.f,
        clients: s.concurrency,
        seed: s.seed(),
        ready_timeout: Duration::from_secs(s.ready_timeout),
        proxy: !s.no_proxy,
        disk_layer: s.disk_layer
            || config
                .schedule
                .families()
                .iter()
                .any(|f| f.needs_disk_layer()),
        replica_bin: s.replica_bin.clone(),
        replica_flags: s.replica_flags(),
        history_start,
    };
    // Launched on this (the runtime's main) thread, which outlives the cluster: the
    // replicas' parent-death signal is tied to it.
    let cluster = Arc::new(Cluster::launch(run_dir, &spec, &interrupt).await?);
    Ok((recorder, cluster, interrupt))
}

/// A stop flag and the task it stops.
struct Task<T> {
    stop: StopSender,
    handle: JoinHandle<T>,
}

impl<T> Task<T> {
    /// Stops the task and waits for it.
    async fn finish(self) -> Result<T> {
        self.stop.stop();
        self.handle.await.context("a run task failed")
    }
}

/// Everything that runs while the workload goes.
struct Running {
    cluster: Arc<Cluster>,
    recorder: RecorderHandle,
    interrupt: Stop,
    shared: Shared,
    stop_workload: StopSender,
    workers: Vec<JoinHandle<PbftClient>>,
    limiter: JoinHandle<()>,
    progress: Option<Progress>,
    crash_watch: Task<()>,
    safety: Option<Task<()>>,
    violation: watch::Receiver<Option<FirstViolation>>,
    sampler: Task<()>,
    timeouts: Timeouts,
    nemesis: Option<Task<Vec<AppliedAction>>>,
    window_start: Duration,
    window_end: Duration,
    interrupted: bool,
    stopped_early: bool,
    applied: Vec<AppliedAction>,
    clients: Vec<PbftClient>,
    final_reads_from: Option<u64>,
}

impl Running {
    /// Step 2: starts the workers, the progress display, the watches and the nemesis.
    fn spawn(
        config: &RunConfig,
        recorder: &Recorder,
        cluster: Arc<Cluster>,
        interrupt: Stop,
    ) -> Result<Running> {
        let s = &config.settings;
        let slots = s.concurrency as u64;
        let shared = Shared {
            recorder: recorder.handle(),
            op_timeout: Duration::from_millis(s.op_timeout_ms),
            next_process: Arc::new(AtomicU64::new(slots)),
            requests: Arc::new(Mutex::new(BTreeSet::new())),
        };
        let (stop_workload, workload_stop) = stop_flag();
        let (limiter, limiter_task) =
            Limiter::start(s.rate, s.concurrency, s.seed(), workload_stop.clone());
        let fault = CurrentFault::default();
        let progress = Progress::start(s.progress, recorder.handle(), fault.clone(), s.time_limit);
        let window_start = recorder.handle().elapsed();
        let workload_start = tokio::time::Instant::now();
        let client_bug = s.client_bug()?;
        let mut workers = Vec::with_capacity(s.concurrency);
        for slot in 0..slots {
            let mut client = cluster.client(slot as usize)?;
            client.on_request(shared.request_hook());
            if let Some(bug) = client_bug {
                client.set_bug(bug);
            }
            let generator = Generator::new(&s.generator(), s.seed(), slot, slots)?;
            workers.push(tokio::spawn(run_slot(
                slot,
                client,
                generator,
                limiter.clone(),
                shared.clone(),
                workload_stop.clone(),
            )));
        }
        let crash_watch =
            spawn_task(|stop| crash_watch(Arc::clone(&cluster), recorder.handle(), stop));
        let timeouts = Timeouts::new(s.f, s.view_change_timeout());
        let sampler = spawn_task(|stop| {
            status::sample(
                cluster.listen_addrs(),
                recorder.handle(),
                timeouts.clone(),
                stop,
            )
        });
        let (violation_tx, violation) = watch::channel(None);
        let safety = s.stop_on_violation.then(|| {
            let watched = Watched {
                addrs: cluster.listen_addrs(),
                recorder: recorder.handle(),
                start: window_start,
                fault: fault.clone(),
                stall: s.stall.map(Duration::from_secs),
                timeouts: timeouts.clone(),
            };
            spawn_task(|stop| watch_safety(watched, stop, violation_tx))
        });
        let nemesis = (!config.schedule.windows.is_empty()).then(|| {
            spawn_task(|stop| {
                let context = NemesisContext {
                    recorder: recorder.handle(),
                    cluster: Arc::clone(&cluster),
                    fault,
                    stop,
                    seed: s.seed(),
                    start: workload_start,
                };
                faults::play(config.schedule.clone(), context)
            })
        });
        Ok(Running {
            cluster,
            recorder: recorder.handle(),
            interrupt,
            shared,
            stop_workload,
            workers,
            limiter: limiter_task,
            progress: Some(progress),
            crash_watch,
            safety,
            violation,
            sampler,
            timeouts,
            nemesis,
            window_start,
            window_end: window_start,
            interrupted: false,
            stopped_early: false,
            applied: Vec::new(),
            clients: Vec::new(),
            final_reads_from: None,
        })
    }

    /// Step 3: the time limit, unless a signal (or, with `--stop-on-violation`, a
    /// violation) comes first; then the final heal, and the recovery window after it
    /// if faults ran.
    async fn workload(&mut self, config: &RunConfig) -> Result<()> {
        let s = &config.settings;
        let watching = self.safety.is_some();
        self.interrupted = tokio::select! {
            biased;
            _ = self.interrupt.wait() => true,
            _ = self.violation.wait_for(Option::is_some), if watching => false,
            _ = tokio::time::sleep(Duration::from_secs(s.time_limit)) => false,
        };
        self.stopped_early = self.violation.borrow().is_some();
        let faulty = self.nemesis.is_some();
        if let Some(nemesis) = self.nemesis.take() {
            self.applied = nemesis.finish().await.context("the nemesis task failed")?;
        }
        if faulty && !self.interrupted && !self.stopped_early {
            let healed = self.recorder.totals();
            self.interrupted = tokio::select! {
                biased;
                _ = self.interrupt.wait() => true,
                _ = tokio::time::sleep(Duration::from_secs(s.recovery_time)) => false,
            };
            if !self.interrupted {
                self.interrupted = self.await_progress(healed.ok + healed.fail).await;
            }
        }
        Ok(())
    }

    /// Waits, at most the availability bound in force, until an operation completes
    /// that had not completed by `done` completions (the final heal), so the final reads
    /// do not start on a cluster still backing off its view changes. True if a signal
    /// came first.
    async fn await_progress(&mut self, done: u64) -> bool {
        let bound = self.timeouts.progress_bound();
        let waited = tokio::time::Instant::now();
        loop {
            let now = self.recorder.totals();
            if now.ok + now.fail > done {
                return false;
            }
            if waited.elapsed() >= bound {
                eprintln!(
                    "harness: no operation completed since the final heal; waited {:.1} s \
                     ({}), going on to the final reads",
                    bound.as_secs_f64(),
                    self.timeouts.describe_progress_bound()
                );
                return false;
            }
            tokio::select! {
                biased;
                _ = self.interrupt.wait() => return true,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Step 4: stops the workers and, unless interrupted, reads every key once more
    /// (unless a signal comes first).
    async fn final_reads(&mut self, config: &RunConfig) -> Result<()> {
        self.stop_workload.stop();
        self.window_end = self.recorder.elapsed();
        // The watch judges the workload: nothing completes once it ends.
        if let Some(safety) = self.safety.take() {
            let _ = safety.finish().await;
        }
        for worker in self.workers.drain(..) {
            self.clients
                .push(worker.await.context("a worker task failed")?);
        }
        let _ = (&mut self.limiter).await;
        self.interrupted |= self.interrupt.is_set();
        if self.interrupted {
            return Ok(());
        }
        let reads = config.settings.generator().final_reads();
        self.final_reads_from = Some(self.recorder.elapsed().as_nanos() as u64);
        let clients = std::mem::take(&mut self.clients);
        // A final read may meet f+1 view changes in a row, each backing off.
        let shared = Shared {
            op_timeout: self.shared.op_timeout.max(self.timeouts.progress_bound()),
            ..self.shared.clone()
        };
        tokio::select! {
            biased;
            _ = self.interrupt.wait() => {}
            _ = final_reads(clients, &reads, &shared) => {}
        }
        Ok(())
    }

    /// Step 5: waits (bounded) for the replicas to converge, judges every replica
    /// running and answering, fetches what each executed, stops the watches and the
    /// cluster, writes `proxy.json` and `schedule.json`, and closes the history.
    async fn wind_down(
        mut self,
        config: &RunConfig,
        run_dir: &Path,
        recorder: Recorder,
    ) -> Result<Driven> {
        let addrs = self.cluster.listen_addrs();
        let bound = self.timeouts.settle_bound();
        // A run stopped on a violation is not waited for: its states are taken at
        // once, and a replica that trails then is not judged a laggard.
        let wait = match self.final_reads_from.is_some() && !self.interrupt.is_set() {
            true if self.stopped_early => bound.min(STOPPED_EARLY_SETTLE),
            true => bound,
            false => Duration::ZERO,
        };
        let settled = status::settle(&addrs, wait, bound).await;
        self.cluster.judge_at_end(&settled, self.recorder.elapsed());
        let evidence = ClusterEvidence::collect(&addrs, run_dir, settled).await;
        if let Some(progress) = self.progress.take() {
            progress.finish().await;
        }
        let interrupted = self.interrupted || self.interrupt.is_set();
        let _ = self.crash_watch.finish().await;
        let _ = self.sampler.finish().await;
        let first_violation = self.violation.borrow().clone();
        self.cluster.watch_crashes(self.recorder.elapsed());
        let replicas = self.cluster.stop(STOP_GRACE);
        let crashes = self.cluster.crashes(&replicas);
        let proxy = self.cluster.proxy();
        if let Some(proxy) = &proxy {
            write_json(
                &run_dir.join(PROXY_FILE),
                &proxy_record(proxy, &evidence.settled.statuses),
            )?;
        }
        write_json(
            &run_dir.join("schedule.json"),
            &serde_json::json!({"planned": &config.schedule, "applied": &self.applied}),
        )?;
        let invoked =
            std::mem::take(&mut *self.shared.requests.lock().expect("requests lock poisoned"));
        drop(self.shared);
        drop(self.recorder);
        let stats = recorder.finish()?;
        Ok(Driven {
            stats,
            window: Window {
                start: self.window_start.as_nanos() as u64,
                end: self.window_end.as_nanos() as u64,
            },
            replicas,
            interrupted,
            applied: self.applied,
            final_reads_from: self.final_reads_from,
            evidence,
            crashes,
            invoked,
            proxy,
            first_violation,
            timeouts: self.timeouts,
        })
    }
}

/// Spawns the task `make(stop)` with a fresh stop flag.
fn spawn_task<T, F>(make: impl FnOnce(Stop) -> F) -> Task<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let (stop, flag) = stop_flag();
    Task {
        stop,
        handle: tokio::spawn(make(flag)),
    }
}

/// Looks for replicas that exit on their own until `stop`.
async fn crash_watch(cluster: Arc<Cluster>, recorder: RecorderHandle, mut stop: Stop) {
    loop {
        cluster.watch_crashes(recorder.elapsed());
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(CRASH_WATCH_EVERY) => {}
        }
    }
}
