//! Filling in the run record ([`results::record`]): `test.json` when the run starts,
//! `proxy.json` from the proxy's live counters, and the parts of `results.json` that
//! come from the history and the oracles.

use super::drive::Driven;
use super::status::StatusView;
use crate::config::{RunConfig, RunSettings};
use checker::oracles::OracleResult;
use checker::{CheckResult, Op, Verdict};
use nemesis::byzantine::MutationCounts;
use nemesis::{LinkCounts, Proxy};
use results::record::{
    FaultReport, FirstViolation, MessageCounts, MutationRecord, ProxyRecord, RunRecord, TestRecord,
    FORMAT,
};
use results::stats::processes;
use std::collections::BTreeMap;

/// `test.json`: what is run, with the resolved settings whole.
pub(crate) fn test_record(config: &RunConfig) -> TestRecord<RunSettings> {
    let s = &config.settings;
    TestRecord {
        format: FORMAT,
        name: s.name().to_string(),
        seed: s.seed(),
        n: s.n(),
        model: s.workload.model_name().to_string(),
        command_line: std::env::args().collect(),
        reproduce: s.reproduce_command(),
        started_at: chrono::Local::now().to_rfc3339(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        config: s.clone(),
    }
}

/// `results.json` as it stands before anything ran (what a broken run leaves).
pub(crate) fn started(settings: &RunSettings) -> RunRecord {
    RunRecord {
        workload: settings.workload.name().into(),
        model: settings.workload.model_name().into(),
        seed: settings.seed(),
        reproduce: settings.reproduce_command(),
        ..RunRecord::default()
    }
}

/// Fills in what the workload phase measured: counts, latency, throughput, how the
/// replicas ended, the faults and how the cluster recovered.
pub(crate) fn measured(record: &mut RunRecord, config: &RunConfig, driven: &Driven, ops: &[Op]) {
    let stats = &driven.stats;
    record.interrupted = driven.interrupted;
    record.replicas = driven.replicas.clone();
    record.counts = stats.counts();
    record.nemesis_ops = stats.nemesis_ops();
    record.latency_us = stats.latency();
    record.latency_us_by_f = stats.latency_by_f();
    record.latency_histograms = stats.histograms().summaries();
    record.workload_seconds = driven.window.seconds();
    record.ops_per_sec = driven.window.ops_per_sec(ops);
    record.processes = processes(ops);
    record.proxy = driven
        .proxy
        .as_ref()
        .map(|p| message_counts(p.counts_by_kind()));
    record.faults = FaultReport {
        clock_mode: "replica-clock".into(),
        scheduled: config.schedule.windows.len(),
        actions: driven.applied.len(),
        crashes: driven.crashes.clone(),
        view_changes: driven.evidence.view_changes.clone(),
        recovery: checker::oracles::recovery(ops, driven.window.end),
        byzantine: driven
            .proxy
            .as_ref()
            .map(|p| mutation_record(p.mutation_counts(), &driven.evidence.settled.statuses))
            .filter(|m| m.total > 0),
    };
}

/// `proxy.json`: the proxy's counters per link and message type, and what Byzantine
/// mutators rewrote.
pub(crate) fn proxy_record(proxy: &Proxy, statuses: &[Option<StatusView>]) -> ProxyRecord {
    ProxyRecord {
        format: FORMAT,
        links: proxy
            .counts_by_link()
            .into_iter()
            .map(|(link, kinds)| (link, message_counts(kinds)))
            .collect(),
        byzantine: mutation_record(proxy.mutation_counts(), statuses),
    }
}

/// The proxy's counters by message type, as recorded.
fn message_counts(kinds: BTreeMap<&'static str, LinkCounts>) -> BTreeMap<String, MessageCounts> {
    kinds
        .into_iter()
        .map(|(kind, c)| {
            let counts = MessageCounts {
                delivered: c.delivered,
                dropped: c.dropped,
                delayed: c.delayed,
                duplicated: c.duplicated,
                reordered: c.reordered,
                replayed: c.replayed,
            };
            (kind.to_string(), counts)
        })
        .collect()
}

/// The mutators' counts, as recorded, with what the replicas (their last `/status`)
/// received and rejected of each mutator's messages.
fn mutation_record(m: MutationCounts, statuses: &[Option<StatusView>]) -> MutationRecord {
    let mut received: BTreeMap<String, u64> = BTreeMap::new();
    let mut rejected: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (tag, counts) in statuses.iter().flatten().flat_map(|s| &s.tagged.0) {
        if !m.by_mutator.contains_key(tag) {
            continue;
        }
        *received.entry(tag.clone()).or_default() += counts.received;
        let into = rejected.entry(tag.clone()).or_default();
        for (why, n) in &counts.rejected {
            *into.entry(why.clone()).or_default() += n;
        }
    }
    MutationRecord {
        received,
        rejected,
        by_mutator: m
            .by_mutator
            .into_iter()
            .map(|(name, kinds)| {
                let kinds = kinds.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                (name, kinds)
            })
            .collect(),
        total: m.total,
        delivered: m.delivered,
        dropped: m.dropped,
    }
}

/// The first failed oracle, dated from its evidence where it has a time: the
/// linearizability counterexample's operation, a crash; otherwise the end of the
/// workload (when the oracles at the end saw it).
pub(crate) fn dated_violation(
    oracles: &[OracleResult],
    check: &CheckResult,
    driven: &Driven,
) -> Option<FirstViolation> {
    let failed = oracles.iter().find(|o| o.verdict == Verdict::Invalid)?;
    let start = driven.window.start;
    let since_start = |ns: u64| ns.saturating_sub(start) as f64 / 1e9;
    let end = since_start(driven.window.end);
    let at_s = match failed.name.as_str() {
        "linearizability" => check.counterexample.as_ref().map(|c| {
            since_start(
                c.unplaceable
                    .complete_time
                    .unwrap_or(c.unplaceable.invoke_time),
            )
        }),
        "crashes" => driven
            .crashes
            .iter()
            .find_map(|c| c.at_s)
            .map(|s| s - start as f64 / 1e9),
        _ => None,
    };
    Some(FirstViolation {
        oracle: failed.name.clone(),
        at_s: at_s.unwrap_or(end).clamp(0.0, end.max(0.0)),
        evidence: failed.evidence.first().cloned().unwrap_or_default(),
    })
}
