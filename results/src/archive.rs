//! A run directory packed as `.tar.gz` for download. Symlinks inside are stored as
//! links, never followed, so nothing outside the run ends up in the archive.

use crate::error::{io, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::path::Path;

/// The directory `dir` as a gzipped tar whose entries sit under `name/`.
pub fn tar_gz(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let gz = GzEncoder::new(Vec::new(), Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.append_dir_all(name, dir).map_err(io(dir))?;
    let gz = tar.into_inner().map_err(io(dir))?;
    gz.finish().map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_directory_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("run/replicas/0")).unwrap();
        std::fs::write(tmp.path().join("run/results.json"), "{}").unwrap();
        std::fs::write(tmp.path().join("run/replicas/0/replica.log"), "hello").unwrap();
        let bytes = tar_gz(&tmp.path().join("run"), "run-1").unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut names = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            if name.ends_with("replica.log") {
                let mut s = String::new();
                e.read_to_string(&mut s).unwrap();
                assert_eq!(s, "hello");
            }
            names.push(name);
        }
        assert!(
            names.contains(&"run-1/results.json".to_string()),
            "{names:?}"
        );
    }
}
