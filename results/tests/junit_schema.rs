//! The JUnit XML of a suite validates against the common schema (tests/data/junit.xsd)
//! with xmllint; a document missing a required attribute does not, which shows the
//! check can fail. Without xmllint the test says loudly that it skipped.

use results::junit::junit_xml;
use results::suite_summary::{OracleLine, SuiteRun, SuiteSummary};
use std::path::Path;
use std::process::Command;

fn xmllint_ok(xml: &str, dir: &Path) -> Option<(bool, String)> {
    let file = dir.join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn summary() -> SuiteSummary {
    let run = |name: &str, verdict: &str, code: Option<i32>| SuiteRun {
        name: name.into(),
        dir: Some(format!("{name}/20261126T000000.000")),
        exit_code: code,
        verdict: verdict.into(),
        seconds: 21.25,
        ops_per_sec: Some(40.0),
        p99_ms: Some(20.0),
        faults: vec!["partition".into(), "kill".into()],
        oracles: vec![OracleLine {
            name: "linearizability".into(),
            verdict: verdict.into(),
            summary: "a <b> & \"c\"".into(),
        }],
        error: (verdict == "broken").then(|| "the cluster did not start".into()),
        reproduce: "cargo run --release -p harness -- run --nemesis 'partition,kill' --seed 7"
            .into(),
    };
    SuiteSummary {
        name: "nightly".into(),
        file: "suites/nightly.toml".into(),
        shard: Some("2/3".into()),
        seed: 7,
        started_at: "2026-11-26T01:02:03.456+00:00".into(),
        seconds: 64.0,
        runs: vec![
            run("register-none", "valid", Some(0)),
            run("kv-partition", "invalid", Some(1)),
            run("append-kill", "unknown", Some(2)),
            run("register-clock", "broken", Some(255)),
        ],
    }
}

#[test]
fn suite_junit_validates_against_the_common_schema() {
    let dir = tempfile::tempdir().unwrap();
    let xml = junit_xml(&summary());
    let Some((ok, why)) = xmllint_ok(&xml, dir.path()) else {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             SKIPPED suite_junit_validates_against_the_common_schema: no xmllint\n\
             (Debian: libxml2-utils; .ci/run installs it). The XML was NOT validated.\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    };
    assert!(ok, "xmllint: {why}\n{xml}");
    assert!(xml.contains(r#"tests="4" failures="2" errors="1""#));
    // The schema is not a rubber stamp: a testcase without its time is refused.
    let broken = xml.replacen(r#" time="21.250""#, "", 1);
    let (ok, _) = xmllint_ok(&broken, dir.path()).unwrap();
    assert!(!ok, "xmllint accepted a testcase without time");
}
