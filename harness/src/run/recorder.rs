//! The history recorder: the single writer of `history.jsonl`.
//!
//! Workers and the nemesis record through a [`RecorderHandle`]. Taking the time, assigning
//! the index and queueing the line happen under one lock, so the file's line order (the
//! real-time order the checker uses) agrees with the `time` field. A dedicated thread
//! writes the lines and flushes at least every [`FLUSH_EVERY`], so a run that dies loses at
//! most that much history and leaves whole lines behind.

use anyhow::{anyhow, Context, Result};
use checker::history::JsonlWriter;
use checker::{Op, OpType, Process};
use results::stats::{Counts, Stats};
use serde_json::Value;
use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use workloads::{Completion, Invocation};

/// The longest a recorded operation stays unflushed.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Index assignment and the queue to the writer thread.
#[derive(Debug)]
struct Sequencer {
    next_index: u64,
    tx: Option<Sender<Op>>,
}

#[derive(Debug)]
struct Shared {
    start: Instant,
    sequencer: Mutex<Sequencer>,
    stats: Arc<Mutex<Stats>>,
}

/// Records operations; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RecorderHandle {
    shared: Arc<Shared>,
}

/// Owns the writer thread; [`Recorder::finish`] flushes and closes the history.
#[derive(Debug)]
pub(crate) struct Recorder {
    handle: RecorderHandle,
    thread: JoinHandle<Result<()>>,
}

impl Recorder {
    /// Creates `path` and starts the writer. `start` is time zero of the history.
    pub(crate) fn start(path: &Path, start: Instant) -> Result<Recorder> {
        let file =
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        let (tx, rx) = channel::<Op>();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let writer_stats = Arc::clone(&stats);
        let name = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || -> Result<()> {
                let mut writer = JsonlWriter::new(file);
                let mut last_flush = Instant::now();
                let mut dirty = false;
                let mut failure: Option<checker::Error> = None;
                loop {
                    let op = match rx.recv_timeout(FLUSH_EVERY) {
                        Ok(op) => Some(op),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if let Some(op) = op {
                        writer_stats
                            .lock()
                            .expect("stats lock poisoned")
                            .observe(&op);
                        if failure.is_none() {
                            if let Err(e) = writer.write(&op) {
                                failure = Some(e);
                            }
                        }
                        dirty = true;
                    }
                    if dirty && last_flush.elapsed() >= FLUSH_EVERY {
                        if let Err(e) = writer.flush() {
                            failure.get_or_insert(e);
                        }
                        dirty = false;
                        last_flush = Instant::now();
                    }
                }
                writer.flush()?;
                match failure {
                    Some(e) => Err(anyhow!(e).context(format!("cannot write {name}"))),
                    None => Ok(()),
                }
            })
            .context("cannot start the recorder thread")?;
        Ok(Recorder {
            handle: RecorderHandle {
                shared: Arc::new(Shared {
                    start,
                    sequencer: Mutex::new(Sequencer {
                        next_index: 0,
                        tx: Some(tx),
                    }),
                    stats,
                }),
            },
            thread,
        })
    }

    /// A handle to record with.
    pub(crate) fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Stops accepting operations (later ones are dropped), writes and flushes what is
    /// queued and closes the file. Returns the final statistics.
    pub(crate) fn finish(self) -> Result<Stats> {
        self.handle
            .shared
            .sequencer
            .lock()
            .expect("recorder lock poisoned")
            .tx
            .take();
        self.thread
            .join()
            .map_err(|_| anyhow!("the recorder thread panicked"))??;
        Ok(self.handle.stats())
    }
}

impl RecorderHandle {
    /// Time since the start of the test.
    pub(crate) fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }

    /// Completions so far (cheaper than [`RecorderHandle::stats`]: no histograms copied).
    pub(crate) fn totals(&self) -> Counts {
        self.shared
            .stats
            .lock()
            .expect("stats lock poisoned")
            .total()
    }

    /// A snapshot of the statistics so far.
    pub(crate) fn stats(&self) -> Stats {
        self.shared
            .stats
            .lock()
            .expect("stats lock poisoned")
            .clone()
    }

    /// Records one operation, stamping it with the next index and the current time.
    pub(crate) fn record(
        &self,
        process: Process,
        kind: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
        error: Option<String>,
    ) {
        let mut seq = self
            .shared
            .sequencer
            .lock()
            .expect("recorder lock poisoned");
        let Some(tx) = &seq.tx else {
            return;
        };
        let time = u64::try_from(self.shared.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut op = Op::new(seq.next_index, process, kind, f, value, time);
        op.key = key.map(str::to_string);
        op.error = error;
        if tx.send(op).is_ok() {
            seq.next_index += 1;
        }
    }

    /// Records that client `process` invokes `invocation`.
    pub(crate) fn invoke(&self, process: u64, invocation: &Invocation) {
        self.record(
            Process::Client(process),
            OpType::Invoke,
            invocation.f.name(),
            Some(&invocation.key),
            invocation.value.clone(),
            None,
        );
    }

    /// Records how client `process`'s `invocation` ended.
    pub(crate) fn complete(&self, process: u64, invocation: &Invocation, completion: &Completion) {
        self.record(
            Process::Client(process),
            completion.kind,
            invocation.f.name(),
            Some(&invocation.key),
            completion.value.clone(),
            completion.error.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_in_index_and_time_order_and_flushed_while_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let recorder = Recorder::start(&path, Instant::now()).unwrap();
        let threads: Vec<_> = (0..4u64)
            .map(|p| {
                let h = recorder.handle();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let inv = Invocation::write("k0", json!(i));
                        h.invoke(p, &inv);
                        h.complete(p, &inv, &Completion::ok(json!(i)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        std::thread::sleep(FLUSH_EVERY * 3);
        let early = checker::history::read_jsonl(&path).unwrap();
        assert_eq!(early.len(), 1600, "flushed before finish");
        let stats = recorder.finish().unwrap();
        assert_eq!(stats.total().ok, 800);
        let ops = checker::history::read_jsonl(&path).unwrap();
        for (i, pair) in ops.windows(2).enumerate() {
            assert_eq!(pair[0].index, i as u64);
            assert!(pair[0].time <= pair[1].time);
        }
        checker::history::pair(ops).unwrap();
    }
}
