//! The few lines `harness run` prints at the end: the verdict, the counts and latency,
//! each oracle's verdict (and the evidence of those that did not pass), and the faults
//! with their recovery figures.

use crate::record::RunRecord;
use checker::Verdict;

fn ms(micros: u64) -> String {
    format!("{:.1} ms", micros as f64 / 1000.0)
}

impl RunRecord {
    /// The multi-line human summary.
    pub fn summary(&self) -> String {
        let total = self.total();
        let verdict = match self.verdict {
            Some(v) => format!("{v:?}").to_lowercase(),
            None => "not checked".into(),
        };
        let mut text = format!(
            "{} run: {verdict}{}\n  {} ops: ok {}, fail {}, info {}; {:.1} ops/s over {:.1} s\n  \
             latency of ok ops: p50 {}, p95 {}, p99 {}, max {}",
            self.workload,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            },
            total.completed(),
            total.ok,
            total.fail,
            total.info,
            self.ops_per_sec,
            self.workload_seconds,
            ms(self.latency_us.p50),
            ms(self.latency_us.p95),
            ms(self.latency_us.p99),
            ms(self.latency_us.max),
        );
        if let Some(check) = &self.check {
            text.push_str(&format!(
                "\n  checked {} ops on {} key(s) with the {} model in {:.1} ms",
                check.ops, check.keys, check.model, check.elapsed_ms
            ));
        }
        if !self.oracles.is_empty() {
            let line: Vec<String> = self
                .oracles
                .iter()
                .map(|o| format!("{} {}", o.name, format!("{:?}", o.verdict).to_lowercase()))
                .collect();
            text.push_str(&format!("\n  oracles: {}", line.join(", ")));
            for o in self.oracles.iter().filter(|o| o.verdict != Verdict::Valid) {
                text.push_str(&format!("\n    {}: {}", o.name, o.summary));
                for e in o.evidence.iter().take(3) {
                    text.push_str(&format!("\n      {}", e.replace('\n', "\n      ")));
                }
            }
        }
        let f = &self.faults;
        if f.scheduled > 0 {
            let vc: Vec<String> = f
                .view_changes
                .iter()
                .map(|v| v.map_or("?".into(), |v| v.to_string()))
                .collect();
            text.push_str(&format!(
                "\n  faults: {} scheduled, {} nemesis actions; view changes per replica: [{}]",
                f.scheduled,
                f.actions,
                vc.join(", ")
            ));
            if let Some(m) = &f.byzantine {
                text.push_str(&format!(
                    "\n    byzantine: {} messages mutated\n      {:<18} {:>8} {:>9} {:>8} {:>8}  rejected by reason",
                    m.total, "mutator", "mutated", "delivered", "received", "accepted"
                ));
                let or_dash = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
                for row in m.rows() {
                    let reasons: Vec<String> = row
                        .rejected
                        .iter()
                        .map(|(why, n)| format!("{why} {n}"))
                        .collect();
                    text.push_str(&format!(
                        "\n      {:<18} {:>8} {:>9} {:>8} {:>8}  {}",
                        row.name,
                        row.mutated,
                        or_dash(row.delivered),
                        or_dash(row.received),
                        or_dash(row.accepted),
                        if reasons.is_empty() {
                            "-".to_string()
                        } else {
                            reasons.join(", ")
                        }
                    ));
                }
            }
            for r in &f.recovery {
                let ms = |v: Option<f64>| v.map_or("never".into(), |v| format!("{v:.0} ms"));
                let back = if r.window.stop.is_none() {
                    "not healed".to_string()
                } else if r.pre_fault_ops_per_sec == 0.0 {
                    "no pre-fault throughput to compare".to_string()
                } else {
                    format!(
                        "full throughput {} after the heal",
                        ms(r.full_throughput_after_heal_ms)
                    )
                };
                text.push_str(&format!(
                    "\n    {} at {:.1} s: first ok op after {}, {back}",
                    r.window.fault,
                    r.window.start as f64 / 1e9,
                    ms(r.first_ok_after_start_ms),
                ));
            }
        }
        text
    }
}
