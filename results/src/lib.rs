//! The run record and what a run leaves for people and for CI, built from the run store
//! on disk.
//!
//! - [`record`]: the typed run record, `test.json` ([`TestRecord`]), `results.json`
//!   ([`RunRecord`]) and `proxy.json` ([`ProxyRecord`]), versioned; `harness` fills it
//!   in, everything here reads it back through the same types.
//! - [`store`]: the run store: creating run directories, `latest`, listing the runs
//!   and suites of a store, resolving paths inside it safely.
//! - [`stats`]: counts and latency quantiles kept while a run goes; [`histogram`]:
//!   latency histograms per operation kind, outcome and fault phase; [`hgrm`] writes
//!   them in HdrHistogram's text format.
//! - [`run_summary`]: the summary `harness run` prints.
//! - [`run_data`]: a stored run read back (records, history, spans, fault windows).
//! - [`svg`], [`palette`], [`plots`]: the SVG plots, fault periods shaded.
//! - [`report`], [`counterexample`], [`timeline`]: `report.html` and `timeline.html`;
//!   [`artifacts`] writes them all for a run directory.
//! - [`suite_summary`]: a suite's summary.json; [`junit`]: JUnit XML for its runs.
//! - [`compare`]: a run (or suite) against a baseline, with thresholds.
//! - [`archive`]: a run directory as `.tar.gz`; [`serve`]: the results web server.

#![forbid(unsafe_code)]

pub mod archive;
pub mod artifacts;
pub mod compare;
pub mod counterexample;
pub mod error;
pub mod hgrm;
pub mod histogram;
pub mod junit;
pub mod palette;
pub mod plots;
pub mod record;
pub mod report;
pub mod run_data;
pub mod run_summary;
pub mod serve;
pub mod stats;
pub mod store;
pub mod suite_summary;
pub mod svg;
pub mod timeline;

pub use artifacts::{write_artifacts, REPORT, TIMELINE};
pub use error::{Error, Result};
pub use histogram::{HistogramKey, LatencyHistograms, LatencySummary, Phase};
pub use record::{ProxyRecord, RunRecord, TestRecord};
pub use run_data::RunData;
pub use stats::{Counts, Latency, Stats};
pub use suite_summary::{SuiteRun, SuiteSummary};
