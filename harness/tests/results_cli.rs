//! `harness compare`, `harness serve` and `harness suite` from the outside: exit codes on
//! a made-up regression and a non-regression, bad input answered with 254 and a clear
//! message, the server refusing `..`, absolute and symlinked paths, and a small real
//! suite sharded in two with its JUnit XML.

mod common;

use common::replicas_of;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("harness runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A run directory with just enough for compare and serve.
fn fake_run(root: &Path, name: &str, p99: f64, ops: f64, verdict: &str) -> PathBuf {
    let dir = root.join(name).join("20260101T000000.000");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("test.json"),
        json!({"name": name, "started_at": "2026-01-01T00:00:00+00:00", "seed": 1}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("results.json"),
        json!({
            "verdict": verdict, "ops_per_sec": ops,
            "latency_us": {"p50": 8000, "p99": (p99 * 1000.0) as u64},
            "latency_histograms": [{"f": "all", "outcome": "ok", "phase": "all",
                                     "p50": 8.0, "p99": p99, "p999": p99}],
            "faults": {"view_changes": [1, 1, 1, 1], "recovery": []}
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("report.html"), "<html>report of {name}</html>").unwrap();
    dir
}

#[test]
fn compare_exits_1_on_a_regression_and_0_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fake_run(tmp.path(), "base", 20.0, 50.0, "valid");
    let fine = fake_run(tmp.path(), "fine", 21.0, 49.0, "valid");
    let slow = fake_run(tmp.path(), "slow", 40.0, 50.0, "valid");
    let p = |p: &Path| p.display().to_string();
    let out = harness(&["compare", &p(&base), &p(&fine)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = harness(&["compare", &p(&base), &p(&slow)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let table = text(&out);
    assert!(
        table
            .lines()
            .any(|l| l.contains("p99 latency ms") && l.contains("REGRESSION")),
        "{table}"
    );
    // Looser thresholds let it through (its p99.9 moved as much as its p99).
    let out = harness(&[
        "compare",
        &p(&base),
        &p(&slow),
        "--max-p99-regression",
        "150%",
        "--max-p999-regression",
        "150",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = harness(&[
        "compare",
        &p(&base),
        &p(&slow),
        "--max-p99-regression",
        "lots",
    ]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
}

#[test]
fn compare_serve_and_suite_refuse_missing_and_foreign_input_with_254() {
    let tmp = tempfile::tempdir().unwrap();
    let base = fake_run(tmp.path(), "base", 20.0, 50.0, "valid");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = tmp.path().join("missing");
    let p = |p: &Path| p.display().to_string();
    for (args, needle) in [
        (
            vec!["compare".to_string(), p(&base), p(&missing)],
            "no such directory",
        ),
        (
            vec!["compare".to_string(), p(&base), p(&empty)],
            "neither a run directory",
        ),
        (
            vec![
                "serve".to_string(),
                "--store".into(),
                p(&missing),
                "--port".into(),
                "0".into(),
            ],
            "no run store",
        ),
        (
            vec![
                "serve".to_string(),
                "--store".into(),
                p(&empty),
                "--port".into(),
                "0".into(),
            ],
            "not a run store",
        ),
        (
            vec!["suite".to_string(), p(&missing.join("s.toml"))],
            "cannot read suite file",
        ),
        (
            vec!["suite".to_string(), p(&empty)],
            "cannot read suite file",
        ),
        (vec!["report".to_string(), p(&empty)], "not a run directory"),
    ] {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = harness(&refs);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
    let suite = tmp.path().join("bad.toml");
    std::fs::write(
        &suite,
        "[matrix]\nworkload = [\"kv\"]\nnemesis_intervall = [3]\n",
    )
    .unwrap();
    let out = harness(&["suite", &p(&suite)]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(text(&out).contains("nemesis_intervall"), "{}", text(&out));
    std::fs::write(&suite, "workloads = [\"kv\"]\n").unwrap();
    let out = harness(&["suite", &p(&suite)]);
    assert_eq!(out.status.code(), Some(254), "{}", text(&out));
    assert!(text(&out).contains("workloads"), "{}", text(&out));
}

/// A running `harness serve`, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(store: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(["serve", "--port", "0", "--store"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut server = Server {
        child,
        addr: String::new(),
    };
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("harness serve prints its address within 30 s");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    assert!(addr.starts_with("127.0.0.1:"), "binds loopback: {line}");
    server.addr = addr.to_string();
    server
}

/// Sends a raw GET (the path exactly as given, no client-side normalisation); returns
/// the status code and body.
fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = unchunk(&body);
    }
    (code, body)
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 4 + size..];
    }
}

#[test]
fn serve_lists_runs_and_refuses_paths_out_of_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let old = fake_run(&store, "old-run", 20.0, 50.0, "valid");
    let new = fake_run(&store, "new-run", 20.0, 50.0, "invalid");
    let t = json!({"name": "new-run", "started_at": "2026-02-01T00:00:00+00:00"});
    std::fs::write(new.join("test.json"), t.to_string()).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), old.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), store.join("escape")).unwrap();
    let server = serve(&store);
    let a = &server.addr;
    let (code, body) = get(a, "/");
    assert_eq!(code, 200);
    let page = String::from_utf8_lossy(&body);
    let (i_new, i_old) = (page.find("new-run").unwrap(), page.find("old-run").unwrap());
    assert!(i_new < i_old, "newest first");
    assert!(
        page.contains("invalid") && page.contains("#d62728"),
        "verdict in colour"
    );
    let (code, body) = get(a, "/runs/old-run/20260101T000000.000/report.html");
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("report of"));
    for bad in [
        "/runs/../secret.txt",
        "/runs/old-run/../../secret.txt",
        "/runs/%2e%2e/secret.txt",
        "/runs/old-run/%2e%2e/%2e%2e/secret.txt",
        "/runs//etc/passwd",
        "/runs/%2fetc%2fpasswd",
        "/runs/old-run/20260101T000000.000/leak.txt",
        "/runs/escape/secret.txt",
        "/archive/escape",
        "/archive/..%2f",
    ] {
        let (code, body) = get(a, bad);
        assert!(code == 403 || code == 404 || code == 400, "{bad}: {code}");
        let body = String::from_utf8_lossy(&body);
        assert!(
            !body.contains("TOP-SECRET") && !body.contains("root:"),
            "{bad} leaked"
        );
    }
    let (code, _) = get(a, "/runs/escape/secret.txt");
    assert_eq!(
        code, 403,
        "a symlink out of the store is refused, not missing"
    );
    let (code, body) = get(a, "/archive/old-run/20260101T000000.000");
    assert_eq!(code, 200);
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[test]
fn a_small_suite_runs_sharded_and_writes_valid_junit() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let suite = tmp.path().join("tiny.toml");
    std::fs::write(
        &suite,
        r#"
        name = "tiny"
        seed = 9
        [defaults]
        time_limit = 3
        rate = 10
        concurrency = 2
        op_timeout_ms = 10000
        [matrix]
        workload = ["register", "kv"]
        "#,
    )
    .unwrap();
    let junit = tmp.path().join("junit.xml");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("suite")
        .arg(&suite)
        .arg("--store")
        .arg(&store)
        .arg("--junit")
        .arg(&junit)
        .args(["--shard", "2/2"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(300));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(replicas_of(&store).is_empty(), "replicas left");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
    assert!(
        xml.contains("name=\"kv\""),
        "shard 2/2 has the second cell: {xml}"
    );
    assert!(xml.contains(r#"failures="0" errors="0""#), "{xml}");
    let suite_dir = store.join("suites/latest");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(suite_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["shard"], "2/2");
    assert_eq!(summary["runs"][0]["verdict"], "valid");
    let run_dir = suite_dir.join(summary["runs"][0]["dir"].as_str().unwrap());
    assert!(run_dir.join("report.html").is_file());
    // Comparing the suite with itself finds no regression.
    let out = harness(&[
        "compare",
        &suite_dir.display().to_string(),
        &suite_dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    if let Ok(o) = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/tests/data/junit.xsd"))
        .arg(&junit)
        .output()
    {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
