//! The checker's counterexample drawn as a per-process timeline (SVG): the concurrent
//! window around the operation that cannot be linearized, one row per process, that
//! operation in red, the other candidates that could have gone next in orange, and the
//! tail of the longest linearizable prefix in grey.

use crate::svg::escape;
use checker::{Counterexample, OpRef, OpType};
use std::collections::BTreeSet;
use std::fmt::Write;

fn type_name(t: OpType) -> &'static str {
    match t {
        OpType::Invoke => "invoke",
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
    }
}

/// An SVG of a check's counterexample.
pub fn counterexample_svg(cx: &Counterexample) -> Option<String> {
    let bad = cx.unplaceable.index;
    let candidates: BTreeSet<u64> = cx.candidates.iter().map(|o| o.index).collect();
    let mut ops: Vec<&OpRef> = Vec::new();
    let mut seen = BTreeSet::new();
    for op in cx
        .prefix_tail
        .iter()
        .chain(&cx.window)
        .chain(&cx.candidates)
        .chain(std::iter::once(&cx.unplaceable))
    {
        if seen.insert(op.index) {
            ops.push(op);
        }
    }
    let processes: BTreeSet<u64> = ops.iter().map(|o| o.process).collect();
    let processes: Vec<u64> = processes.into_iter().collect();
    let t0 = ops.iter().map(|o| o.invoke_time).min()?;
    let t1 = ops
        .iter()
        .map(|o| o.complete_time.unwrap_or(o.invoke_time))
        .max()?;
    let span = (t1 - t0).max(1) as f64;
    let (left, width, row) = (90.0, 820.0, 34.0);
    let height = 40.0 + row * processes.len() as f64;
    let x = |t: u64| left + (t.saturating_sub(t0)) as f64 / span * width;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot counterexample" width="{}" height="{height}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#,
        left + width + 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="16" font-size="12">key {} — {:.3} ms shown; model state after the prefix: {}</text>"#,
        escape(cx.key.as_deref().unwrap_or("-")),
        span / 1e6,
        escape(&cx.state)
    );
    for (row_i, p) in processes.iter().enumerate() {
        let y = 28.0 + row_i as f64 * row;
        let _ = writeln!(
            s,
            r##"<text x="4" y="{:.1}">process {p}</text><line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            y + 16.0,
            left + width,
            y + 12.0,
            y + 12.0
        );
        for op in ops.iter().filter(|o| o.process == *p) {
            let index = op.index;
            let start = op.invoke_time;
            let end = op.complete_time.unwrap_or(t1);
            let (fill, role) = if index == bad {
                ("#d62728", "cannot be linearized")
            } else if candidates.contains(&index) {
                ("#ff7f0e", "candidate")
            } else {
                ("#bbbbbb", "context")
            };
            let label = format!(
                "{} {} -> {} ({})",
                op.f,
                op.value,
                op.output,
                type_name(op.outcome)
            );
            let class = if index == bad { "bad-op" } else { "op" };
            let _ = writeln!(
                s,
                r#"<g class="{class}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="24" rx="3" fill="{fill}" fill-opacity="0.8"><title>#{} {} [{role}]</title></rect><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                x(start),
                y,
                (x(end) - x(start)).max(3.0),
                index,
                escape(&label),
                x(start) + 3.0,
                y + 16.0,
                escape(&label)
            );
        }
    }
    s.push_str("</svg>\n");
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_bad_operation_is_marked() {
        let op = |i: u64, p: u64, t0: u64, t1: u64| OpRef {
            index: i,
            complete_index: Some(i + 1),
            process: p,
            f: "read".into(),
            key: None,
            value: json!(null),
            output: json!(3),
            outcome: OpType::Ok,
            invoke_time: t0,
            complete_time: Some(t1),
        };
        let cx = Counterexample {
            key: Some("k0".into()),
            linearized_prefix: vec![0],
            prefix_tail: vec![op(0, 1, 0, 10)],
            state: "1".into(),
            unplaceable: op(4, 2, 20, 30),
            candidates: vec![op(6, 3, 22, 40)],
            window: vec![op(4, 2, 20, 30), op(6, 3, 22, 40)],
        };
        let svg = counterexample_svg(&cx).unwrap();
        assert_eq!(svg.matches(r#"class="bad-op""#).count(), 1);
        assert_eq!(svg.matches(r#"class="op""#).count(), 2);
        assert!(svg.contains("process 3"));
    }
}
