//! Headless Chromium for the page tests: finds the browser, loads a page with
//! `--dump-dom` (scripts run, the DOM after them is printed) and collects what the
//! console said. A test that finds no browser says so loudly on stderr and skips.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a page load may take before the browser is killed.
const LOAD_LIMIT: Duration = Duration::from_secs(90);

/// The browser binary: `$CHROMIUM`, else `chromium`, `chromium-browser` or
/// `google-chrome` on the PATH.
pub(crate) fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Prints the loud skip notice.
pub(crate) fn skip(test: &str) {
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         SKIPPED {test}: no Chromium found (install Debian's `chromium`, or set CHROMIUM);\n\
         .ci/run installs it. The page was NOT checked in a browser.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
}

/// A page as the browser left it.
pub(crate) struct Loaded {
    /// The DOM after the page's scripts ran.
    pub(crate) dom: String,
    /// The browser's console lines (`CONSOLE` in its log).
    pub(crate) console: Vec<String>,
    /// From starting the browser to its exit.
    pub(crate) elapsed: Duration,
}

impl Loaded {
    /// An attribute of `<html>` set by the page's script, if set.
    pub(crate) fn root_attr(&self, name: &str) -> Option<String> {
        let html = &self.dom[self.dom.find("<html")?..];
        let tag = &html[..html.find('>')?];
        let key = format!("{name}=\"");
        let at = tag.find(&key)? + key.len();
        Some(tag[at..at + tag[at..].find('"')?].to_string())
    }
}

/// Loads `page` in headless `browser` and returns the DOM after its scripts ran.
pub(crate) fn load(browser: &Path, page: &Path, scratch: &Path) -> Loaded {
    let profile = scratch.join(format!(
        "chromium-profile-{}",
        page.file_name().unwrap().to_string_lossy()
    ));
    let log = scratch.join(format!(
        "chromium-{}.log",
        page.file_name().unwrap().to_string_lossy()
    ));
    let started = Instant::now();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let pgid = child.id();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LOAD_LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .status();
            let _ = child.wait();
            panic!(
                "chromium still loading {} after {LOAD_LIMIT:?}",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    // Whatever helpers the browser left in its group go too.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
    let dom = reader.join().unwrap();
    let console = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    assert!(
        status.success() || !dom.is_empty(),
        "chromium failed: {status}"
    );
    Loaded {
        dom,
        console,
        elapsed,
    }
}
