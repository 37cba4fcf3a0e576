//! The run's pages in a real browser: a short faulted run's `report.html` and
//! `timeline.html` open in headless Chromium with every plot and table rendered and
//! nothing on the console; the timeline of a 100,000-operation history opens too (its
//! load time is printed). Without Chromium these tests say loudly that they skipped.

mod common;

use common::browser::{chromium, load, skip};
use common::run::run;
use std::io::Write;
use std::process::Command;

#[test]
fn the_report_of_a_short_faulted_run_renders_in_chromium() {
    let Some(browser) = chromium() else {
        skip("the_report_of_a_short_faulted_run_renders_in_chromium");
        return;
    };
    // The shared fault-run helper: small load, generous timeouts, no replica left.
    let out = run(
        &[
            "--time-limit",
            "9",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--seed",
            "3",
        ],
        None,
    );
    assert_eq!(out.status, Some(0), "stderr:\n{}", out.stderr);
    let dir = &out.dir;
    let run_dir = dir.path().join("store/latest");
    for file in ["latency-raw.svg", "latency-quantiles.svg", "rate.svg"] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    let report = load(&browser, &run_dir.join("report.html"), dir.path());
    assert_eq!(
        report.root_attr("data-rendered").as_deref(),
        Some("ok"),
        "the report's script did not finish; console: {:?}",
        report.console
    );
    assert_eq!(report.root_attr("data-errors"), None);
    assert!(report.console.is_empty(), "console: {:?}", report.console);
    let plots: usize = report.root_attr("data-plots").unwrap().parse().unwrap();
    assert!(plots >= 3, "{plots} plots");
    for section in [
        "id=\"verdicts\"",
        "id=\"latency\"",
        "id=\"faults\"",
        "id=\"recovery\"",
        "id=\"proxy\"",
        "id=\"replicas\"",
        "id=\"reproduce\"",
    ] {
        assert!(report.dom.contains(section), "no {section} in the report");
    }
    // Every fault window is shaded on every plot.
    assert!(
        report.dom.matches("class=\"fault\"").count() >= 3,
        "no shaded fault periods"
    );
    assert!(report.dom.contains("--seed 3"), "no reproduce command");
    let timeline = load(&browser, &run_dir.join("timeline.html"), dir.path());
    assert_eq!(timeline.root_attr("data-rendered").as_deref(), Some("ok"));
    assert!(
        timeline.console.is_empty(),
        "console: {:?}",
        timeline.console
    );
}

#[test]
fn a_timeline_of_100k_operations_opens_in_chromium() {
    let Some(browser) = chromium() else {
        skip("a_timeline_of_100k_operations_opens_in_chromium");
        return;
    };
    // A seeded synthetic run: 100,000 operations on 50 processes, 1 ms apart, with a
    // partition and a kill.
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::write(
        run_dir.join("test.json"),
        r#"{"name":"synthetic","seed":1,"n":4,"model":"cas-register"}"#,
    )
    .unwrap();
    let mut history =
        std::io::BufWriter::new(std::fs::File::create(run_dir.join("history.jsonl")).unwrap());
    let mut index = 0u64;
    {
        let mut line = |text: String| {
            writeln!(history, "{text}").unwrap();
        };
        let ops = 100_000u64;
        let mut state = 1u64;
        for i in 0..ops {
            let p = i % 50;
            let t = i * 1_000_000;
            if i == 20_000 {
                line(format!(
                    r#"{{"index":{index},"process":"nemesis","type":"info","f":"start-partition","value":{{"isolate":[0]}},"time":{t}}}"#
                ));
                index += 1;
            }
            if i == 40_000 {
                line(format!(
                    r#"{{"index":{index},"process":"nemesis","type":"info","f":"stop-partition","value":null,"time":{t}}}"#
                ));
                index += 1;
                line(format!(
                    r#"{{"index":{},"process":"nemesis","type":"info","f":"kill","value":{{"nodes":[2]}},"time":{t}}}"#,
                    index
                ));
                index += 1;
            }
            if i == 60_000 {
                line(format!(
                    r#"{{"index":{index},"process":"nemesis","type":"info","f":"start","value":{{"nodes":[2]}},"time":{t}}}"#
                ));
                index += 1;
            }
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let f = ["read", "write", "cas"][(state >> 33) as usize % 3];
            let kind = if state >> 60 == 0 { "info" } else { "ok" };
            line(format!(
                r#"{{"index":{index},"process":{p},"type":"invoke","f":"{f}","key":"k","value":1,"time":{t}}}"#
            ));
            index += 1;
            let done = t + 40_000_000 + (state >> 40) % 9_000_000;
            line(format!(
                r#"{{"index":{index},"process":{p},"type":"{kind}","f":"{f}","key":"k","value":1,"time":{done}}}"#
            ));
            index += 1;
        }
    }
    history.flush().unwrap();
    drop(history);
    // The history is not in time order across processes, which the report does not
    // need; `harness report` builds the pages from the files.
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("report")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "harness report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = load(&browser, &run_dir.join("timeline.html"), dir.path());
    assert_eq!(
        page.root_attr("data-rendered").as_deref(),
        Some("ok"),
        "console: {:?}",
        page.console
    );
    assert_eq!(page.root_attr("data-ops").as_deref(), Some("100000"));
    assert!(page.console.is_empty(), "console: {:?}", page.console);
    eprintln!(
        "timeline of 100000 operations: chromium started, loaded, drew and exited in {:.2} s \
         (the page's own script: {} ms)",
        page.elapsed.as_secs_f64(),
        page.root_attr("data-render-ms").unwrap_or_default()
    );
}

#[test]
fn an_invalid_history_shows_its_counterexample_in_the_report() {
    // A register written 1 and then read as 2: not linearizable. `harness analyze`
    // judges it and rebuilds the report, which must draw the counterexample.
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir).unwrap();
    std::fs::write(
        run_dir.join("test.json"),
        r#"{"name":"bad","seed":1,"n":4,"model":"cas-register","config":{"workload":"register"}}"#,
    )
    .unwrap();
    std::fs::write(
        run_dir.join("history.jsonl"),
        [
            r#"{"index":0,"process":0,"type":"invoke","f":"write","key":"r","value":1,"time":1000000}"#,
            r#"{"index":1,"process":0,"type":"ok","f":"write","key":"r","value":1,"time":2000000}"#,
            r#"{"index":2,"process":1,"type":"invoke","f":"read","key":"r","value":null,"time":3000000}"#,
            r#"{"index":3,"process":1,"type":"ok","f":"read","key":"r","value":2,"time":4000000}"#,
            "",
        ]
        .join("\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("analyze")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(run_dir.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"counterexample\""),
        "no counterexample section"
    );
    assert_eq!(html.matches("class=\"bad-op\"").count(), 1);
    let Some(browser) = chromium() else {
        skip("an_invalid_history_shows_its_counterexample_in_the_report (browser part)");
        return;
    };
    let page = load(&browser, &run_dir.join("report.html"), dir.path());
    assert_eq!(page.root_attr("data-rendered").as_deref(), Some("ok"));
    assert!(page.console.is_empty(), "console: {:?}", page.console);
    assert!(page.dom.contains("class=\"bad-op\""));
}
