//! Writes a run's derived files from what it stored: the SVG plots, `report.html` and
//! `timeline.html`. `harness run` calls it at the end; `harness report DIR` rebuilds
//! them for any stored run.

use crate::error::{io, Result};
use crate::plots::plots;
use crate::report::report_html;
use crate::run_data::RunData;
use crate::timeline::timeline_html;
use std::path::{Path, PathBuf};

/// The report's file name in a run directory.
pub const REPORT: &str = "report.html";
/// The timeline's file name in a run directory.
pub const TIMELINE: &str = "timeline.html";

/// Reads the run in `dir` and writes its plots, report and timeline there; returns the
/// files written.
pub fn write_artifacts(dir: &Path) -> Result<Vec<PathBuf>> {
    let run = RunData::load(dir)?;
    let plots = plots(&run);
    let mut written = Vec::new();
    for p in &plots {
        let path = dir.join(p.file);
        std::fs::write(&path, &p.svg).map_err(io(&path))?;
        written.push(path);
    }
    let report = dir.join(REPORT);
    std::fs::write(&report, report_html(&run, &plots)).map_err(io(&report))?;
    written.push(report);
    let timeline = dir.join(TIMELINE);
    std::fs::write(&timeline, timeline_html(&run)).map_err(io(&timeline))?;
    written.push(timeline);
    Ok(written)
}
