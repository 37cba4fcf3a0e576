//! What a run leaves for people and for CI, built from the run store on disk.
//!
//! - [`histogram`]: latency histograms per operation kind, outcome and fault phase,
//!   recorded as the run goes; [`hgrm`] writes them in HdrHistogram's text format.
//! - [`run_data`]: a stored run read back (test.json, results.json, history, proxy).
//! - [`svg`], [`palette`], [`plots`]: the SVG plots, fault periods shaded.
//! - [`report`], [`counterexample`], [`timeline`]: `report.html` and `timeline.html`;
//!   [`artifacts`] writes them all for a run directory.
//! - [`suite_summary`]: a suite's summary.json; [`junit`]: JUnit XML for its runs.
//! - [`compare`]: a run (or suite) against a baseline, with thresholds.
//! - [`store`]: listing the runs of a store and resolving paths inside it safely;
//!   [`archive`]: a run directory as `.tar.gz`; [`serve`]: the results web server.

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
pub mod report;
pub mod run_data;
pub mod serve;
pub mod store;
pub mod suite_summary;
pub mod svg;
pub mod timeline;

pub use artifacts::{write_artifacts, REPORT, TIMELINE};
pub use error::{Error, Result};
pub use histogram::{HistogramKey, LatencyHistograms, LatencySummary, Phase};
pub use run_data::RunData;
pub use suite_summary::{SuiteRun, SuiteSummary};
