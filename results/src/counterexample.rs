//! The checker's counterexample drawn as a per-process timeline (SVG): the concurrent
//! window around the operation that cannot be linearized, one row per process, that
//! operation in red, the other candidates that could have gone next in orange, and the
//! tail of the longest linearizable prefix in grey.

use crate::svg::escape;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write;

/// An SVG of `results.json`'s `check.counterexample`, or `None` if there is none.
pub fn counterexample_svg(results: &Value) -> Option<String> {
    let cx = results["check"].get("counterexample")?;
    let bad = cx["unplaceable"]["index"].as_u64();
    let candidates: BTreeSet<u64> = cx["candidates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["index"].as_u64())
        .collect();
    let mut ops: Vec<&Value> = Vec::new();
    let mut seen = BTreeSet::new();
    for list in ["prefix_tail", "window", "candidates"] {
        for op in cx[list].as_array().into_iter().flatten() {
            if seen.insert(op["index"].as_u64()) {
                ops.push(op);
            }
        }
    }
    if let Some(u) = cx.get("unplaceable") {
        if seen.insert(u["index"].as_u64()) {
            ops.push(u);
        }
    }
    let processes: BTreeSet<u64> = ops.iter().filter_map(|o| o["process"].as_u64()).collect();
    let processes: Vec<u64> = processes.into_iter().collect();
    let t0 = ops.iter().filter_map(|o| o["invoke_time"].as_u64()).min()?;
    let t1 = ops
        .iter()
        .map(|o| {
            o["complete_time"]
                .as_u64()
                .or_else(|| o["invoke_time"].as_u64())
                .unwrap_or(t0)
        })
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
        escape(cx["key"].as_str().unwrap_or("-")),
        span / 1e6,
        escape(&cx["state"].to_string())
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
        for op in ops.iter().filter(|o| o["process"].as_u64() == Some(*p)) {
            let index = op["index"].as_u64();
            let start = op["invoke_time"].as_u64().unwrap_or(t0);
            let end = op["complete_time"].as_u64().unwrap_or(t1);
            let (fill, role) = if index == bad {
                ("#d62728", "cannot be linearized")
            } else if index.is_some_and(|i| candidates.contains(&i)) {
                ("#ff7f0e", "candidate")
            } else {
                ("#bbbbbb", "context")
            };
            let label = format!(
                "{} {} -> {} ({})",
                op["f"].as_str().unwrap_or("?"),
                op["value"],
                op["output"],
                op["type"].as_str().unwrap_or("?")
            );
            let class = if index == bad { "bad-op" } else { "op" };
            let _ = writeln!(
                s,
                r#"<g class="{class}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="24" rx="3" fill="{fill}" fill-opacity="0.8"><title>#{} {} [{role}]</title></rect><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                x(start),
                y,
                (x(end) - x(start)).max(3.0),
                index.unwrap_or(0),
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
        let op = |i: u64, p: u64, t0: u64, t1: u64| {
            json!({"index": i, "process": p, "f": "read", "value": null, "output": 3,
                   "type": "ok", "invoke_time": t0, "complete_time": t1})
        };
        let results = json!({"check": {"counterexample": {
            "key": "k0", "linearized_prefix": [0], "prefix_tail": [op(0, 1, 0, 10)],
            "state": "1", "unplaceable": op(4, 2, 20, 30), "candidates": [op(6, 3, 22, 40)],
            "window": [op(4, 2, 20, 30), op(6, 3, 22, 40)]}}});
        let svg = counterexample_svg(&results).unwrap();
        assert_eq!(svg.matches(r#"class="bad-op""#).count(), 1);
        assert_eq!(svg.matches(r#"class="op""#).count(), 2);
        assert!(svg.contains("process 3"));
        assert!(counterexample_svg(&json!({"check": {}})).is_none());
    }
}
