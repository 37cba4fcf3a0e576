//! History file formats: naming them, recognising them, and reading a file in any of them.

use super::edn_history::parse_edn_history;
use super::jepsen_log::parse_jepsen_log;
use crate::error::{Error, Result};
use crate::history::{read_jsonl, Op};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

/// How many bytes [`read_history`] looks at to recognise a file's format.
const SNIFF_BYTES: u64 = 64 * 1024;

/// A history file format this crate can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryFormat {
    /// This project's JSON Lines: one JSON operation per line (`jsonl`).
    Jsonl,
    /// A Jepsen log with `jepsen.util - ` operation lines (`jepsen-log`).
    JepsenLog,
    /// EDN operation maps, in one vector/list or one after another (`edn`).
    Edn,
}

impl HistoryFormat {
    /// The format's name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            HistoryFormat::Jsonl => "jsonl",
            HistoryFormat::JepsenLog => "jepsen-log",
            HistoryFormat::Edn => "edn",
        }
    }
}

impl fmt::Display for HistoryFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HistoryFormat {
    type Err = Error;

    /// Parses `jsonl`, `jepsen-log` or `edn`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "jsonl" => Ok(HistoryFormat::Jsonl),
            "jepsen-log" => Ok(HistoryFormat::JepsenLog),
            "edn" => Ok(HistoryFormat::Edn),
            _ => Err(Error::UnknownName {
                what: "format",
                name: s.to_string(),
                expected: "jsonl, jepsen-log, edn",
            }),
        }
    }
}

/// Recognises a format from the start of a file's content alone.
fn sniff(first_bytes: &str) -> Option<HistoryFormat> {
    let mut significant = first_bytes
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .flat_map(|l| l.chars().chain(std::iter::once('\n')))
        .filter(|c| !c.is_whitespace() && *c != ',');
    match (significant.next(), significant.next()) {
        (Some('{'), Some('"')) => return Some(HistoryFormat::Jsonl),
        (Some('{'), Some(':')) | (Some('[' | '('), _) => return Some(HistoryFormat::Edn),
        _ => {}
    }
    if first_bytes.contains("jepsen.util") {
        return Some(HistoryFormat::JepsenLog);
    }
    None
}

/// Guesses a file's format from its extension and the start of its content.
///
/// `.jsonl` and `.json` are JSON Lines and `.log` is a Jepsen log. `.edn` and `.txt` are
/// EDN unless the content says otherwise. Any other file is recognised by content: a first
/// form starting `{"` is JSON Lines; `[`, `(` or `{:` is EDN; a `jepsen.util` line makes a
/// Jepsen log. Lines starting with `;` (EDN comments) are skipped when looking. When
/// nothing matches, the answer is JSON Lines, this project's own format.
pub fn detect(path: &Path, first_bytes: &str) -> HistoryFormat {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jsonl" | "json") => HistoryFormat::Jsonl,
        Some("log") => HistoryFormat::JepsenLog,
        Some("edn" | "txt") => sniff(first_bytes).unwrap_or(HistoryFormat::Edn),
        _ => sniff(first_bytes).unwrap_or(HistoryFormat::Jsonl),
    }
}

/// Recognises a file's format with [`detect`] from its name and first bytes, as
/// [`read_history`] does when given no format. A file that cannot be read is an
/// [`Error::Io`].
pub fn detect_file(path: &Path) -> Result<HistoryFormat> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut head = Vec::new();
    file.take(SNIFF_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| io_error(path, e))?;
    let text = match std::str::from_utf8(&head) {
        Ok(t) => t,
        // The cut may fall inside a character: look at the valid part.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    Ok(detect(path, text))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a history file in `format`, or in the format [`detect`] recognises when `None`.
///
/// JSON Lines files are streamed with [`crate::history::read_jsonl`]; the other formats
/// are read whole. A file that cannot be read is an [`Error::Io`]; a file that is not
/// valid UTF-8 is an [`Error::Parse`].
pub fn read_history(path: &Path, format: Option<HistoryFormat>) -> Result<Vec<Op>> {
    let format = match format {
        Some(f) => f,
        None => detect_file(path)?,
    };
    match format {
        HistoryFormat::Jsonl => read_jsonl(path),
        HistoryFormat::JepsenLog => {
            parse_jepsen_log(&read_text(path)?, &path.display().to_string())
        }
        HistoryFormat::Edn => parse_edn_history(&read_text(path)?, &path.display().to_string()),
    }
}

/// Reads a whole file as UTF-8 text.
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        Error::Parse {
            source_name: path.display().to_string(),
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
            message: "the file is not valid UTF-8".into(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for f in [
            HistoryFormat::Jsonl,
            HistoryFormat::JepsenLog,
            HistoryFormat::Edn,
        ] {
            assert_eq!(f.to_string().parse::<HistoryFormat>().unwrap(), f);
        }
        let err = "xml".parse::<HistoryFormat>().unwrap_err();
        assert!(matches!(err, Error::UnknownName { what: "format", .. }));
        assert!(err.to_string().contains("jsonl, jepsen-log, edn"), "{err}");
    }

    #[test]
    fn detects_by_extension_then_content() {
        let p = Path::new;
        assert_eq!(detect(p("h.jsonl"), "[1]"), HistoryFormat::Jsonl);
        assert_eq!(detect(p("h.json"), ""), HistoryFormat::Jsonl);
        assert_eq!(detect(p("h.log"), "{:a 1}"), HistoryFormat::JepsenLog);
        assert_eq!(detect(p("h.edn"), ""), HistoryFormat::Edn);
        assert_eq!(detect(p("h.EDN"), "; c\n[{:a 1}]"), HistoryFormat::Edn);
        assert_eq!(detect(p("h.txt"), "{:process 0}"), HistoryFormat::Edn);
        assert_eq!(
            detect(p("h.txt"), "INFO  jepsen.util - 0\t:invoke\t:read\tnil"),
            HistoryFormat::JepsenLog
        );
        assert_eq!(detect(p("h.txt"), "{\"index\":0}"), HistoryFormat::Jsonl);
        assert_eq!(
            detect(p("history"), "  {\"index\":0}"),
            HistoryFormat::Jsonl
        );
        assert_eq!(
            detect(p("history"), "\n; c\n ({:f :read})"),
            HistoryFormat::Edn
        );
        assert_eq!(detect(p("history"), "{\n  :process 1}"), HistoryFormat::Edn);
        assert_eq!(
            detect(p("history"), "noise\nINFO jepsen.util - 1 :ok :read 3"),
            HistoryFormat::JepsenLog
        );
        assert_eq!(detect(p("history"), ""), HistoryFormat::Jsonl);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let err = read_history(Path::new("/nonexistent/h.edn"), None).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        let err =
            read_history(Path::new("/nonexistent/h.edn"), Some(HistoryFormat::Edn)).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }
}
