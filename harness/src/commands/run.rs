//! `harness run`: one test, end to end.
//!
//! ```text
//! resolve config + schedule ─▶ run dir + test.json ─▶ recorder ─▶ proxy + cluster
//!   ─▶ workers at --rate for --time-limit, nemesis playing the schedule, crash watch
//!   ─▶ final heal ─▶ recovery window (if faults ran) ─▶ final reads
//!   ─▶ fetch /log and /status ─▶ stop cluster ─▶ close history
//!   ─▶ linearizability + oracles ─▶ results.json, proxy.json, schedule.json, summary
//! ```
//!
//! The exit status follows the worst oracle: linearizability, agreement, validity,
//! exactly-once, crashes, liveness (the final reads complete) and stall.
//!
//! Ctrl-C or SIGTERM ends the workload early: no final reads, but the cluster is
//! stopped, the partial history checked and results written (exit 1 if it is invalid,
//! else 255). Anything that breaks after the run directory exists still leaves a
//! `results.json` with the error.

use crate::cli::RunArgs;
use crate::cluster::control::Crash;
use crate::cluster::process::Launcher;
use crate::cluster::{Cluster, ClusterSpec, ReplicaExit};
use crate::exit::{Exit, ExitContext, Failure};
use crate::faults::{CurrentFault, NemesisContext};
use crate::history_check::{check_history, read_history};
use crate::judge::{ClusterEvidence, Judged};
use crate::limiter::Limiter;
use crate::progress::Progress;
use crate::recorder::{Recorder, RecorderHandle};
use crate::results::{counts, processes, FaultReport, RunResults, Window};
use crate::run_config::RunConfig;
use crate::safety_watch::{watch_safety, FirstViolation, Watched};
use crate::shutdown::{interrupts, stop_flag, Stop};
use crate::stats::Stats;
use crate::store::{create_run_dir, write_json};
use crate::workers::{final_reads, run_slot, Shared};
use anyhow::{anyhow, Context, Result};
use checker::oracles::{recovery, worst, ExecutedRequest};
use checker::Verdict;
use nemesis::byzantine::MutationCounts;
use nemesis::{AppliedAction, LinkCounts, Schedule};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use workloads::Generator;

/// How long replicas get to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs `harness run`.
pub(crate) fn run(args: &RunArgs) -> Result<Exit, Failure> {
    let config = RunConfig::resolve(args).or_exit(Exit::BadInput)?;
    let launcher =
        Launcher::new(config.replica_bin.clone(), config.replica_flags()).or_exit(Exit::Broken)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .or_exit(Exit::Broken)?;
    runtime.block_on(run_test(config, launcher))
}

/// How often the crash watch looks at the replica processes.
const CRASH_WATCH_EVERY: Duration = Duration::from_millis(250);

/// What the workload phase produced.
struct Driven {
    stats: Stats,
    window: Window,
    replicas: Vec<ReplicaExit>,
    interrupted: bool,
    schedule: Schedule,
    applied: Vec<AppliedAction>,
    final_reads_from: Option<u64>,
    evidence: ClusterEvidence,
    crashes: Vec<Crash>,
    invoked: BTreeSet<ExecutedRequest>,
    proxy_counts: Option<BTreeMap<&'static str, LinkCounts>>,
    mutated: Option<MutationCounts>,
    first_violation: Option<FirstViolation>,
}

async fn run_test(config: RunConfig, launcher: Launcher) -> Result<Exit, Failure> {
    let run_dir = create_run_dir(&config.store, config.name()).or_exit(Exit::Broken)?;
    let test = json!({
        "name": config.name(),
        "seed": config.seed(),
        "n": config.n(),
        "model": config.workload.model_name(),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "reproduce": config.reproduce_command(),
        "started_at": chrono::Local::now().to_rfc3339(),
        "harness_version": env!("CARGO_PKG_VERSION"),
        "config": &config,
    });
    write_json(&run_dir.join("test.json"), &test).or_exit(Exit::Broken)?;
    eprintln!(
        "harness: {} workload, {} replicas, {} s at {}/s, seed {}\nharness: run directory {}",
        config.workload,
        config.n(),
        config.time_limit,
        config.rate,
        config.seed(),
        run_dir.display()
    );
    let mut results = RunResults {
        verdict: None,
        oracles: Vec::new(),
        error: None,
        interrupted: false,
        workload: config.workload.name().into(),
        model: config.workload.model_name().into(),
        seed: config.seed(),
        counts: Default::default(),
        workload_seconds: 0.0,
        ops_per_sec: 0.0,
        latency_us: Default::default(),
        latency_us_by_f: Default::default(),
        latency_histograms: Vec::new(),
        processes: 0,
        nemesis_ops: 0,
        replicas: Vec::new(),
        reproduce: config.reproduce_command(),
        check: None,
        faults: FaultReport::default(),
        proxy: None,
        first_violation: None,
    };
    let outcome = drive(&config, launcher, &run_dir)
        .await
        .and_then(|driven| finish(&config, &run_dir, driven, &mut results));
    let exit = match outcome {
        Ok(exit) => Ok(exit),
        Err(error) => {
            results.error = Some(format!("{error:#}"));
            Err(Failure {
                error,
                exit: Exit::Broken,
            })
        }
    };
    if let Err(e) = write_json(&run_dir.join("results.json"), &results) {
        eprintln!("harness: error: {e:#}");
    }
    let report = match ::results::write_artifacts(&run_dir) {
        Ok(_) => Some(run_dir.join(::results::REPORT)),
        Err(e) => {
            eprintln!("harness: error: cannot write the report: {e}");
            None
        }
    };
    if results.verdict.is_some() {
        println!("{}", results.summary());
    }
    println!("results: {}", run_dir.display());
    if let Some(report) = report {
        println!("report: {}", report.display());
    }
    if results.verdict == Some(Verdict::Invalid) {
        println!("reproduce: {}", results.reproduce);
    }
    exit
}

/// Checks the history, runs the oracles and fills in the results; the exit status
/// follows the worst verdict.
fn finish(
    config: &RunConfig,
    run_dir: &Path,
    driven: Driven,
    results: &mut RunResults,
) -> Result<Exit> {
    results.interrupted = driven.interrupted;
    results.replicas = driven.replicas;
    results.counts = counts(&driven.stats);
    results.nemesis_ops = driven.stats.nemesis_ops();
    results.latency_us = driven.stats.latency();
    results.latency_us_by_f = driven.stats.latency_by_f();
    results.latency_histograms = driven.stats.histograms().summaries();
    driven.stats.histograms().write_hgrm_files(run_dir)?;
    results.workload_seconds = driven.window.seconds();
    results.proxy = driven.proxy_counts;
    write_json(
        &run_dir.join("schedule.json"),
        &json!({"planned": &driven.schedule, "applied": &driven.applied}),
    )?;
    let ops = read_history(&run_dir.join("history.jsonl"))?;
    results.ops_per_sec = driven.window.ops_per_sec(&ops);
    results.processes = processes(&ops);
    results.faults = FaultReport {
        clock_mode: "replica-clock",
        scheduled: driven.schedule.windows.len(),
        actions: driven.applied.len(),
        crashes: driven.crashes.clone(),
        view_changes: driven.evidence.view_changes.clone(),
        recovery: recovery(&ops, driven.window.end),
        byzantine: driven.mutated.filter(|m| m.total > 0),
    };
    let check = check_history(ops.clone(), config.workload, config.check_timeout)?;
    let oracles = Judged {
        check: &check,
        ops: &ops,
        evidence: &driven.evidence,
        invoked: &driven.invoked,
        crashes: &driven.crashes,
        workload: (driven.window.start, driven.window.end),
        final_reads_from: driven.final_reads_from,
        stall_ns: config.stall * 1_000_000_000,
    }
    .oracles();
    let window = (driven.window.start, driven.window.end);
    let verdict = worst(oracles.iter().map(|o| o.verdict));
    // Only a violation the oracles confirm is reported (the watch's stall rule sees
    // the faults in force a little differently from the history's windows).
    results.first_violation = (verdict == Verdict::Invalid)
        .then(|| {
            driven
                .first_violation
                .or_else(|| dated_violation(&oracles, &check, window, &driven.crashes))
        })
        .flatten();
    results.verdict = Some(verdict);
    results.oracles = oracles;
    results.check = Some(check);
    if driven.interrupted && verdict != Verdict::Invalid {
        return Err(anyhow!(
            "the run was interrupted (the partial history is {verdict:?})"
        ));
    }
    Ok(verdict.into())
}

/// The first failed oracle, dated from its evidence where it has a time: the
/// linearizability counterexample's operation, a crash; otherwise the end of the
/// workload (when the oracles at the end saw it).
fn dated_violation(
    oracles: &[checker::oracles::OracleResult],
    check: &checker::CheckResult,
    (start, end): (u64, u64),
    crashes: &[Crash],
) -> Option<FirstViolation> {
    let failed = oracles.iter().find(|o| o.verdict == Verdict::Invalid)?;
    let since_start = |ns: u64| ns.saturating_sub(start) as f64 / 1e9;
    let end = since_start(end);
    let at_s = match failed.name.as_str() {
        "linearizability" => check.counterexample.as_ref().map(|c| {
            since_start(
                c.unplaceable
                    .complete_time
                    .unwrap_or(c.unplaceable.invoke_time),
            )
        }),
        "crashes" => crashes
            .iter()
            .map(|c| c.at_s - start as f64 / 1e9)
            .find(|s| s.is_finite()),
        _ => None,
    };
    Some(FirstViolation {
        oracle: failed.name.clone(),
        at_s: at_s.unwrap_or(end).clamp(0.0, end.max(0.0)),
        evidence: failed.evidence.first().cloned().unwrap_or_default(),
    })
}

/// Looks for replicas that exit on their own until `stop`.
async fn crash_watch(cluster: Arc<Cluster>, recorder: RecorderHandle, mut stop: Stop) {
    loop {
        cluster.watch_crashes(recorder.elapsed());
        // Stop, or look again.
        tokio::select! {
            _ = stop.wait() => return,
            _ = tokio::time::sleep(CRASH_WATCH_EVERY) => {}
        }
    }
}

/// Starts the cluster, runs the workload and the final reads, stops the cluster and
/// closes the history.
async fn drive(config: &RunConfig, launcher: Launcher, run_dir: &Path) -> Result<Driven> {
    let mut interrupt = interrupts()?;
    let recorder = Recorder::start(&run_dir.join("history.jsonl"), Instant::now())?;
    let spec = ClusterSpec {
        f: config.f,
        clients: config.concurrency,
        seed: config.seed(),
        ready_timeout: Duration::from_secs(config.ready_timeout),
        proxy: !config.no_proxy,
    };
    let schedule = config.schedule()?;
    // Spawned on this (the runtime's main) thread, which outlives the cluster: the
    // replicas' parent-death signal is tied to it.
    let cluster = Arc::new(Cluster::launch(run_dir, &spec, launcher, &mut interrupt).await?);
    let generator = config.generator();
    let slots = config.concurrency as u64;
    let shared = Shared {
        recorder: recorder.handle(),
        op_timeout: Duration::from_millis(config.op_timeout_ms),
        next_process: Arc::new(AtomicU64::new(slots)),
        requests: Arc::new(Mutex::new(BTreeSet::new())),
    };
    let (stop_workload, workload_stop) = stop_flag();
    let (limiter, limiter_task) = Limiter::start(
        config.rate,
        config.concurrency,
        config.seed(),
        workload_stop.clone(),
    );
    let fault = CurrentFault::default();
    let progress = Progress::start(
        config.progress,
        recorder.handle(),
        fault.clone(),
        config.time_limit,
    );
    let window_start = recorder.handle().elapsed();
    let workload_start = tokio::time::Instant::now();
    let mut workers = Vec::with_capacity(config.concurrency);
    let client_bug = config.client_bug()?;
    for slot in 0..slots {
        let mut client = cluster.client(slot as usize)?;
        if let Some(bug) = client_bug {
            client.set_bug(bug);
        }
        let generator = Generator::new(&generator, config.seed(), slot, slots)?;
        workers.push(tokio::spawn(run_slot(
            slot,
            client,
            generator,
            limiter.clone(),
            shared.clone(),
            workload_stop.clone(),
        )));
    }
    let (stop_watch, watch_stop) = stop_flag();
    let watch = tokio::spawn(crash_watch(
        Arc::clone(&cluster),
        recorder.handle(),
        watch_stop,
    ));
    let (stop_safety, safety_stop) = stop_flag();
    let (violation_tx, mut violation) = tokio::sync::watch::channel(None);
    let safety = config.stop_on_violation.then(|| {
        tokio::spawn(watch_safety(
            Watched {
                addrs: cluster.listen_addrs(),
                recorder: recorder.handle(),
                start: window_start,
                fault: fault.clone(),
                stall: Duration::from_secs(config.stall),
            },
            safety_stop,
            violation_tx,
        ))
    });
    let faulty = !schedule.windows.is_empty();
    let (stop_nemesis, nemesis_stop) = stop_flag();
    let nemesis_task = faulty.then(|| {
        crate::faults::spawn(
            schedule.clone(),
            NemesisContext {
                recorder: recorder.handle(),
                cluster: Arc::clone(&cluster),
                fault: fault.clone(),
                stop: nemesis_stop,
                seed: config.seed(),
                start: workload_start,
            },
        )
    });
    // The time limit, unless a signal (or, with --stop-on-violation, a violation)
    // comes first.
    let mut interrupted = tokio::select! {
        biased;
        _ = interrupt.wait() => true,
        _ = violation.wait_for(Option::is_some), if safety.is_some() => false,
        _ = tokio::time::sleep(Duration::from_secs(config.time_limit)) => false,
    };
    let stopped_early = violation.borrow().is_some();
    stop_nemesis.stop();
    let applied = match nemesis_task {
        Some(task) => task.await.context("the nemesis task failed")?,
        None => Vec::new(),
    };
    if faulty && !interrupted && !stopped_early {
        // The recovery window after the final heal, unless a signal comes first.
        interrupted = tokio::select! {
            biased;
            _ = interrupt.wait() => true,
            _ = tokio::time::sleep(Duration::from_secs(config.recovery_time)) => false,
        };
    }
    stop_workload.stop();
    let window_end = recorder.handle().elapsed();
    let mut clients = Vec::with_capacity(workers.len());
    for worker in workers {
        clients.push(worker.await.context("a worker task failed")?);
    }
    let _ = limiter_task.await;
    let interrupted = interrupted || interrupt.is_set();
    let mut final_reads_from = None;
    if !interrupted {
        let reads = generator.final_reads();
        final_reads_from = Some(recorder.handle().elapsed().as_nanos() as u64);
        // The final reads, unless a signal comes first.
        tokio::select! {
            biased;
            _ = interrupt.wait() => {}
            _ = final_reads(clients, &reads, &shared) => {}
        }
    }
    let evidence = ClusterEvidence::collect(&cluster.listen_addrs(), run_dir).await;
    progress.finish().await;
    let interrupted = interrupted || interrupt.is_set();
    stop_watch.stop();
    let _ = watch.await;
    stop_safety.stop();
    if let Some(task) = safety {
        let _ = task.await;
    }
    let first_violation = violation.borrow().clone();
    cluster.watch_crashes(recorder.handle().elapsed());
    let replicas = cluster.stop(STOP_GRACE);
    let crashes = cluster.crashes(&replicas);
    let (proxy_counts, mutated) = match cluster.proxy() {
        Some(proxy) => {
            let mutated = proxy.mutation_counts();
            write_json(
                &run_dir.join("proxy.json"),
                &json!({"links": proxy.counts_by_link(), "byzantine": &mutated}),
            )?;
            (Some(proxy.counts_by_kind()), Some(mutated))
        }
        None => (None, None),
    };
    let invoked = std::mem::take(&mut *shared.requests.lock().expect("requests lock poisoned"));
    drop(shared);
    let stats = recorder.finish()?;
    Ok(Driven {
        stats,
        window: Window {
            start: window_start.as_nanos() as u64,
            end: window_end.as_nanos() as u64,
        },
        replicas,
        interrupted,
        schedule,
        applied,
        final_reads_from,
        evidence,
        crashes,
        invoked,
        proxy_counts,
        mutated,
        first_violation,
    })
}
