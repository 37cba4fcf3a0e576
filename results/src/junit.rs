//! JUnit XML for a suite, in the common (Ant / Jenkins) format CI systems read: one
//! `<testsuite>` in `<testsuites>`, one `<testcase>` per run; a run with an invalid or
//! unknown verdict is a `<failure>`, a run that broke is an `<error>`, and either
//! carries the oracles' verdicts and the command that reproduces the run.

use crate::suite_summary::{SuiteRun, SuiteSummary};
use crate::svg::escape;
use std::fmt::Write;

/// Drops characters XML 1.0 cannot hold, and escapes the rest.
fn xml(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
        })
        .collect();
    escape(&clean)
}

/// The failure text of a run: its verdicts and how to reproduce it.
pub fn failure_text(run: &SuiteRun) -> String {
    let mut text = format!("verdict: {}\n", run.verdict);
    if let Some(code) = run.exit_code {
        let _ = writeln!(text, "exit status: {code}");
    }
    if let Some(e) = &run.error {
        let _ = writeln!(text, "error: {e}");
    }
    for o in &run.oracles {
        let _ = writeln!(text, "{}: {} ({})", o.name, o.verdict, o.summary);
    }
    if let Some(dir) = &run.dir {
        let _ = writeln!(text, "run directory: {dir}");
    }
    let _ = writeln!(text, "reproduce: {}", run.reproduce);
    text
}

/// The JUnit XML document of a suite.
pub fn junit_xml(summary: &SuiteSummary) -> String {
    let broken = |r: &SuiteRun| r.verdict == "broken";
    let failures = summary
        .runs
        .iter()
        .filter(|r| !r.passed() && !broken(r))
        .count();
    let errors = summary.runs.iter().filter(|r| broken(r)).count();
    let tests = summary.runs.len();
    let name = match &summary.shard {
        Some(s) => format!("{} (shard {s})", summary.name),
        None => summary.name.clone(),
    };
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="{errors}" time="{:.3}">"#,
        xml(&name),
        summary.seconds
    );
    let _ = writeln!(
        x,
        r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="{errors}" skipped="0" time="{:.3}" timestamp="{}" hostname="localhost">"#,
        xml(&name),
        summary.seconds,
        xml(timestamp(&summary.started_at))
    );
    let _ = writeln!(
        x,
        r#"    <properties><property name="seed" value="{}"/><property name="file" value="{}"/></properties>"#,
        summary.seed,
        xml(&summary.file)
    );
    for r in &summary.runs {
        let _ = write!(
            x,
            r#"    <testcase name="{}" classname="{}" time="{:.3}""#,
            xml(&r.name),
            xml(&format!("harness.suite.{}", summary.name)),
            r.seconds
        );
        if r.passed() {
            x.push_str("/>\n");
            continue;
        }
        let kind = if broken(r) { "error" } else { "failure" };
        let _ = writeln!(
            x,
            ">\n      <{kind} message=\"{}\" type=\"{}\">{}</{kind}>\n    </testcase>",
            xml(&format!("{} run: {}", r.name, r.verdict)),
            xml(&r.verdict),
            xml(&failure_text(r))
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// JUnit's timestamp is an ISO 8601 date-time without a zone: the RFC 3339 text cut
/// before its offset and fraction.
fn timestamp(rfc3339: &str) -> &str {
    rfc3339.get(..19).unwrap_or("1970-01-01T00:00:00")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite_summary::OracleLine;

    pub(crate) fn summary() -> SuiteSummary {
        let run = |name: &str, verdict: &str, code: Option<i32>| SuiteRun {
            name: name.into(),
            dir: Some(format!("{name}/20261126T000000.000")),
            exit_code: code,
            verdict: verdict.into(),
            seconds: 12.5,
            ops_per_sec: Some(40.0),
            p99_ms: Some(20.0),
            faults: vec!["partition".into()],
            oracles: vec![OracleLine {
                name: "linearizability".into(),
                verdict: verdict.into(),
                summary: "3 ops <&> \u{1} fine".into(),
            }],
            error: None,
            reproduce: "cargo run --release -p harness -- run --seed 7".into(),
        };
        SuiteSummary {
            name: "smoke".into(),
            file: "suites/smoke.toml".into(),
            shard: Some("1/2".into()),
            seed: 7,
            started_at: "2026-11-26T00:00:00.123+00:00".into(),
            seconds: 40.0,
            runs: vec![
                run("register-none", "valid", Some(0)),
                run("kv-partition", "invalid", Some(1)),
                run("append-kill", "broken", Some(255)),
            ],
        }
    }

    #[test]
    fn failures_carry_verdicts_and_the_reproduce_command() {
        let x = junit_xml(&summary());
        assert!(x.contains(r#"tests="3" failures="1" errors="1""#), "{x}");
        assert_eq!(x.matches("<testcase ").count(), 3);
        assert!(x.contains("<failure message=\"kv-partition run: invalid\" type=\"invalid\">"));
        assert!(x.contains("reproduce: cargo run --release -p harness -- run --seed 7"));
        assert!(
            x.contains("3 ops &lt;&amp;&gt;  fine"),
            "control characters dropped"
        );
        assert!(x.contains("<error "));
        assert!(x.contains(r#"timestamp="2026-11-26T00:00:00""#));
    }
}
