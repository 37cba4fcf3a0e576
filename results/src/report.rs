//! `report.html`: one self-contained page per run (inline SVG and CSS, no network):
//! the verdicts first, then how to reproduce the run, the plots, the latency table, the
//! fault timeline, recovery figures and view changes, proxy counters, how each replica
//! exited, and for an invalid history the counterexample drawn as a timeline.
//!
//! A small script at the end marks `<html data-rendered="ok">` once it has checked that
//! every plot is in the page, and `data-errors` if any script error happened: what the
//! headless-browser test looks for.

use crate::counterexample::counterexample_svg;
use crate::palette::{fault_color, fault_family};
use crate::plots::{recoveries, Plot};
use crate::record::{MessageCounts, ProxyRecord, RunRecord};
use crate::run_data::RunData;
use crate::svg::escape;
use checker::Verdict;
use std::fmt::Write;

/// The colour of a verdict.
pub fn verdict_color(verdict: &str) -> &'static str {
    match verdict {
        "valid" => "#2ca02c",
        "invalid" => "#d62728",
        "unknown" => "#ff7f0e",
        _ => "#7f7f7f",
    }
}

fn verdict_badge(verdict: &str) -> String {
    format!(
        r#"<span class="verdict" style="background:{}">{}</span>"#,
        verdict_color(verdict),
        escape(verdict)
    )
}

fn num(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1250px}\
h1{margin-bottom:4px}h2{border-bottom:1px solid #ccc;padding-bottom:3px;margin-top:32px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;\
text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.verdict{color:white;padding:2px 10px;border-radius:4px;font-weight:bold}\
.big{font-size:22px}pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}\
.swatch{display:inline-block;width:12px;height:12px;margin-right:5px;opacity:.6}\
figure{margin:12px 0}figcaption{font-size:13px;color:#555}";

/// The report page of a run, with `plots` embedded.
pub fn report_html(run: &RunData, plots: &[Plot]) -> String {
    let empty = RunRecord::default();
    let r = run.results.as_ref().unwrap_or(&empty);
    let t = &run.test;
    let verdict = match (&run.results, r.verdict) {
        (None, _) | (_, None) => "not checked",
        (Some(_), Some(v)) => verdict_word(v),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — {}</title><style>{STYLE}</style></head><body>\n",
        escape(&t.name),
        escape(verdict)
    );
    let _ = writeln!(
        h,
        r#"<h1>{} <span class="big">{}</span></h1><p>{} · seed {} · started {} · <a href="timeline.html">timeline</a> · <a href="results.json">results.json</a> · <a href="history.jsonl">history.jsonl</a></p>"#,
        escape(&t.name),
        verdict_badge(verdict),
        escape(&run.dir.display().to_string()),
        t.seed,
        escape(&t.started_at)
    );
    if let Some(e) = &r.error {
        let _ = writeln!(h, "<p><b>The run broke:</b> {}</p>", escape(e));
    }
    // Verdicts.
    h.push_str("<h2 id=\"verdicts\">Verdicts</h2><table><tr><th>oracle</th><th>verdict</th><th>summary</th><th>evidence</th></tr>\n");
    for o in &r.oracles {
        let evidence: Vec<String> = o.evidence.iter().map(|e| escape(e)).collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&o.name),
            verdict_badge(verdict_word(o.verdict)),
            escape(&o.summary),
            if evidence.is_empty() {
                String::new()
            } else {
                format!("<pre>{}</pre>", evidence.join("\n"))
            }
        );
    }
    h.push_str("</table>\n");
    // Reproduce and config.
    let reproduce = [r.reproduce.as_str(), t.reproduce.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("-");
    let total = r.total();
    let _ = writeln!(
        h,
        "<h2 id=\"config\">Configuration</h2><p>Reproduce with:</p><pre id=\"reproduce\">{}</pre>\
         <p>{} workload, {} model, n = {}, seed {}; {} ok, {} fail, {} info; {} ops/s over {} s</p>\
         <details><summary>test.json</summary><pre>{}</pre></details>",
        escape(reproduce),
        escape(&r.workload),
        escape(&t.model),
        t.n,
        t.seed,
        total.ok,
        total.fail,
        total.info,
        num(r.ops_per_sec, 1),
        num(r.workload_seconds, 1),
        escape(&serde_json::to_string_pretty(t).unwrap_or_default())
    );
    // Plots.
    h.push_str("<h2 id=\"plots\">Plots</h2>\n");
    for p in plots {
        let _ = writeln!(
            h,
            "<figure id=\"{}\">{}<figcaption>{} (<a href=\"{}\">{}</a>)</figcaption></figure>",
            p.file.trim_end_matches(".svg"),
            p.svg,
            escape(p.caption),
            p.file,
            p.file
        );
    }
    latency_table(&mut h, r);
    fault_table(run, &mut h);
    recovery_table(&mut h, r);
    proxy_table(&mut h, run.proxy.as_ref());
    byzantine_table(&mut h, r);
    replica_table(&mut h, r);
    if let Some(cx) = r.check.as_ref().and_then(|c| c.counterexample.as_ref()) {
        if let Some(svg) = counterexample_svg(cx) {
            let _ = writeln!(
                h,
                "<h2 id=\"counterexample\">Counterexample</h2><p>The operation in red cannot be linearized after the longest linearizable prefix; orange ones could have gone next and led nowhere.</p>{svg}<details><summary>check.counterexample</summary><pre>{}</pre></details>",
                escape(&serde_json::to_string_pretty(cx).unwrap_or_default())
            );
        }
    }
    let _ = writeln!(
        h,
        "<script>\n(function(){{var root=document.documentElement;\
window.addEventListener('error',function(e){{root.dataset.errors=(root.dataset.errors||'')+e.message+';';}});\
var want={};var svgs=document.querySelectorAll('figure svg.plot').length;\
var tables=document.querySelectorAll('table').length;\
root.dataset.plots=svgs;root.dataset.tables=tables;\
if(svgs===want&&tables>0){{root.dataset.rendered='ok';}}else{{console.error('report: '+svgs+' of '+want+' plots');}}}})();\n</script></body></html>",
        plots.len()
    );
    h
}

fn latency_table(h: &mut String, r: &RunRecord) {
    h.push_str("<h2 id=\"latency\">Latency (ms)</h2><table><tr><th>operation</th><th>outcome</th><th>phase</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>.hgrm</th></tr>\n");
    for l in &r.latency_histograms {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td><a href=\"{}\">file</a></td></tr>",
            escape(&l.key.f),
            escape(&l.key.outcome),
            l.key.phase.name(),
            l.count,
            num(l.p50, 2),
            num(l.p90, 2),
            num(l.p99, 2),
            num(l.p999, 2),
            num(l.max, 2),
            escape(&l.file)
        );
    }
    h.push_str("</table>\n");
}

fn fault_table(run: &RunData, h: &mut String) {
    let _ = writeln!(
        h,
        "<h2 id=\"faults\">Fault timeline</h2><p>{} fault window(s); every nemesis action is in history.jsonl and schedule.json.</p><table><tr><th>fault</th><th>what</th><th>start (s)</th><th>heal (s)</th><th>length (s)</th></tr>",
        run.faults.len()
    );
    for w in &run.faults {
        let family = fault_family(&w.fault);
        let stop = w.stop.map(|s| s as f64 / 1e9);
        let _ = writeln!(
            h,
            "<tr><td><span class=swatch style=\"background:{}\"></span>{}</td><td>{}</td><td class=n>{:.2}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            fault_color(family),
            escape(&w.fault),
            escape(&match &w.healed {
                Some(healed) => format!("{}; healed: {healed}", w.what),
                None => w.what.to_string(),
            }),
            w.start as f64 / 1e9,
            stop.map_or("never".into(), |s| format!("{s:.2}")),
            stop.map_or("-".into(), |s| format!("{:.2}", s - w.start as f64 / 1e9))
        );
    }
    h.push_str("</table>\n");
}

fn recovery_table(h: &mut String, r: &RunRecord) {
    let vc: Vec<String> = r
        .faults
        .view_changes
        .iter()
        .map(|v| v.map_or("?".into(), |v| v.to_string()))
        .collect();
    let _ = writeln!(
        h,
        "<h2 id=\"recovery\">Recovery and view changes</h2><p>View changes per replica: [{}]</p><table><tr><th>fault</th><th>start (s)</th><th>heal (s)</th><th>first ok after start (ms)</th><th>full throughput after heal (ms)</th></tr>",
        vc.join(", ")
    );
    for m in recoveries(Some(r)) {
        let ms = |v: Option<f64>| v.map_or("never".into(), |v| format!("{v:.0}"));
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=n>{:.2}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(&m.fault),
            m.start,
            m.stop.map_or("never".into(), |s| format!("{s:.2}")),
            ms(m.first_ok_ms),
            ms(m.back_ms)
        );
    }
    h.push_str("</table>\n");
}

fn proxy_table(h: &mut String, proxy: Option<&ProxyRecord>) {
    h.push_str("<h2 id=\"proxy\">Proxy counters</h2>");
    let Some(proxy) = proxy else {
        h.push_str("<p>No proxy (--no-proxy).</p>\n");
        return;
    };
    h.push_str("<table><tr><th>link</th><th>message</th>");
    for c in MessageCounts::COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for (link, kinds) in &proxy.links {
        for (kind, counts) in kinds {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td>", escape(link), escape(kind));
            for v in counts.values() {
                let _ = write!(h, "<td class=n>{v}</td>");
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</table>\n");
}

/// Per mutator: what it produced, what the rules let through, what the replicas
/// received, accepted and rejected (by reason).
fn byzantine_table(h: &mut String, r: &RunRecord) {
    let Some(m) = &r.faults.byzantine else {
        return;
    };
    h.push_str(
        "<h2 id=\"byzantine\">Byzantine mutators</h2><p>Accepted: received by a replica and \
         not rejected. A mutator meant to be refused for a protocol reason shows that reason \
         first; one refused for format or signature tests nothing.</p><table><tr>\
         <th>mutator</th><th>mutated</th><th>delivered</th><th>received</th><th>accepted</th>\
         <th>rejected by reason</th></tr>\n",
    );
    let cell = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for row in m.rows() {
        let reasons: Vec<String> = row
            .rejected
            .iter()
            .map(|(why, n)| format!("{} {n}", escape(why)))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td>{}</td></tr>",
            escape(&row.name),
            row.mutated,
            cell(row.delivered),
            cell(row.received),
            cell(row.accepted),
            reasons.join(", ")
        );
    }
    h.push_str("</table>\n");
}

fn replica_table(h: &mut String, r: &RunRecord) {
    h.push_str("<h2 id=\"replicas\">Replicas</h2><table><tr><th>replica</th><th>pid</th><th>exit</th><th>log</th></tr>\n");
    for rep in &r.replicas {
        let id = rep.id;
        let _ = writeln!(
            h,
            "<tr><td>{id}</td><td>{}</td><td>{}</td><td><a href=\"replicas/{id}/replica.log\">replica.log</a> · <a href=\"replicas/{id}/executed.json\">executed.json</a></td></tr>",
            rep.pid,
            escape(&rep.status)
        );
    }
    h.push_str("</table>\n");
    for c in &r.faults.crashes {
        let _ = writeln!(
            h,
            "<p>Replica {} exited on its own ({}); its log ends:</p><pre>{}</pre>",
            c.replica,
            escape(&c.status),
            escape(&c.log_tail)
        );
    }
}
