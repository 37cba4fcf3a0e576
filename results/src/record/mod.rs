//! The run record: what a run stores about itself, typed. `harness` fills these in and
//! writes them; everything in this crate reads them back through the same types, so no
//! key of `test.json`, `results.json` or `proxy.json` is looked up by string.
//!
//! - [`TestRecord`] (`test.json`): what was run: name, seed, cluster size, model, the
//!   command line and the resolved configuration.
//! - [`RunRecord`] (`results.json`): what came of it: verdicts, counts, latency,
//!   faults and recovery, how each replica ended.
//! - [`ProxyRecord`] (`proxy.json`): the proxy's message counters per link and type.
//!
//! Each carries a `format` number ([`FORMAT`]). Records written before the field
//! existed have the same layout and load as format 0; a record from a newer harness
//! than this one is refused with a message saying so.

mod parts;
mod proxy;
mod run;
mod test;

pub use parts::{Crash, FaultReport, FirstViolation, ReplicaExit};
pub use proxy::{MessageCounts, MutationRecord, ProxyRecord};
pub use run::RunRecord;
pub use test::TestRecord;

use crate::error::{io, Error, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// The format of the records this build writes. Raise it when a field changes meaning
/// or is removed (adding a field with a default does not need it).
pub const FORMAT: u32 = 1;

/// The file names of the records in a run directory.
pub const TEST_FILE: &str = "test.json";
/// See [`TEST_FILE`].
pub const RESULTS_FILE: &str = "results.json";
/// See [`TEST_FILE`].
pub const PROXY_FILE: &str = "proxy.json";

/// A record that says which format it was written in.
pub trait Versioned {
    /// The format the record was written in (0: before records carried one).
    fn format(&self) -> u32;
}

/// The format of a record written before records carried one.
fn unversioned() -> u32 {
    0
}

/// Reads a record from `path`: it must parse as `T` and be of a format this build
/// knows.
pub fn read_record<T: DeserializeOwned + Versioned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let record: T = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    if record.format() > FORMAT {
        return Err(Error::NotARun {
            path: path.to_path_buf(),
            why: format!(
                "written in record format {}, newer than this harness reads ({FORMAT}); \
                 use a newer harness",
                record.format()
            ),
        });
    }
    Ok(record)
}

/// Reads a record that may be absent: `Ok(None)` if `path` is not a file.
pub fn read_optional<T: DeserializeOwned + Versioned>(path: &Path) -> Result<Option<T>> {
    if path.is_file() {
        read_record(path).map(Some)
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Counts, Latency};
    use checker::oracles::OracleResult;
    use checker::Verdict;

    #[test]
    fn a_run_record_round_trips() {
        let mut record = RunRecord {
            verdict: Some(Verdict::Invalid),
            workload: "register".into(),
            seed: 7,
            ops_per_sec: 49.5,
            latency_us: Latency {
                count: 3,
                p50: 10,
                p95: 20,
                p99: 30,
                max: 40,
            },
            reproduce: "cargo run --release -p harness -- run --seed 7".into(),
            first_violation: Some(FirstViolation {
                oracle: "agreement".into(),
                at_s: 3.5,
                evidence: "seq 1 differs".into(),
            }),
            ..RunRecord::default()
        };
        record.counts.insert(
            "total".into(),
            Counts {
                ok: 1,
                fail: 2,
                info: 3,
            },
        );
        record.oracles.push(OracleResult::from_violations(
            "agreement",
            "checked".into(),
            vec!["seq 1 differs".into()],
        ));
        record.faults.crashes.push(Crash {
            replica: 2,
            at_s: None,
            status: "exited 1 when stopped".into(),
            log_tail: "panic".into(),
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        crate::store::write_json(&path, &record).unwrap();
        let back: RunRecord = read_record(&path).unwrap();
        assert_eq!(back.format, FORMAT);
        assert_eq!(back, record);
    }

    #[test]
    fn an_unversioned_record_loads_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.json");
        std::fs::write(&old, r#"{"verdict":"valid","ops_per_sec":10.0,"seed":3}"#).unwrap();
        let r: RunRecord = read_record(&old).unwrap();
        assert_eq!((r.format, r.verdict, r.seed), (0, Some(Verdict::Valid), 3));
        let new = dir.path().join("new.json");
        std::fs::write(&new, format!(r#"{{"format":{},"seed":3}}"#, FORMAT + 1)).unwrap();
        let e = read_record::<RunRecord>(&new).unwrap_err().to_string();
        assert!(e.contains("newer"), "{e}");
    }

    #[test]
    fn a_test_record_keeps_its_configuration_opaque() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TEST_FILE);
        let record = TestRecord {
            name: "register".into(),
            seed: 1,
            config: serde_json::json!({"rate": 50.0}),
            ..TestRecord::default()
        };
        crate::store::write_json(&path, &record).unwrap();
        let back: TestRecord = read_record(&path).unwrap();
        assert_eq!(back, record);
    }
}
