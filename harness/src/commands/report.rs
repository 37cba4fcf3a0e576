//! `harness report DIR`: rebuild a stored run's plots, `report.html` and `timeline.html`
//! from the files it stored (what `harness run` does at its end).

use crate::cli::ReportArgs;
use crate::exit::{Exit, Failure};

/// Runs `harness report`.
pub(crate) fn run(args: &ReportArgs) -> Result<Exit, Failure> {
    match ::results::write_artifacts(&args.dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            Ok(Exit::Valid)
        }
        Err(e) => {
            let exit = match e {
                ::results::Error::NotARun { .. }
                | ::results::Error::Json { .. }
                | ::results::Error::History(_) => Exit::BadInput,
                _ => Exit::Broken,
            };
            Err(Failure {
                error: anyhow::Error::new(e)
                    .context(format!("cannot build the report of {}", args.dir.display())),
                exit,
            })
        }
    }
}
