//! Streaming JSON Lines reading and writing of histories, one operation per line.

use super::op::Op;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Reads operations one line at a time, reporting the line number of anything malformed.
///
/// Blank lines are skipped. The reader never holds more than one line in memory.
pub struct JsonlReader<R> {
    input: R,
    source_name: String,
    line_no: usize,
    buf: String,
}

impl<R: BufRead> JsonlReader<R> {
    /// Reads from `input`; `source_name` names it in error messages.
    pub fn new(input: R, source_name: impl Into<String>) -> Self {
        JsonlReader {
            input,
            source_name: source_name.into(),
            line_no: 0,
            buf: String::new(),
        }
    }
}

impl JsonlReader<BufReader<File>> {
    /// Opens a history file for streaming.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(JsonlReader::new(
            BufReader::with_capacity(1 << 16, file),
            path.display().to_string(),
        ))
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Op>;

    fn next(&mut self) -> Option<Result<Op>> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(Error::Parse {
                        source_name: self.source_name.clone(),
                        line: self.line_no,
                        message: e.to_string(),
                    }))
                }
            }
            let line = self.buf.trim();
            if line.is_empty() {
                continue;
            }
            return Some(serde_json::from_str(line).map_err(|e| Error::Parse {
                source_name: self.source_name.clone(),
                line: self.line_no,
                message: format!("not a history operation: {e}"),
            }));
        }
    }
}

/// Reads a whole JSON Lines history file into memory.
pub fn read_jsonl(path: &Path) -> Result<Vec<Op>> {
    JsonlReader::open(path)?.collect()
}

/// Appends operations to a JSON Lines sink, one per line.
///
/// Writes go through a buffer; call [`JsonlWriter::flush`] to push them to the sink (the
/// harness flushes regularly so that a run that dies still leaves a parseable history).
pub struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonlWriter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        JsonlWriter {
            out: BufWriter::with_capacity(1 << 16, out),
        }
    }

    /// Appends one operation as one line.
    pub fn write(&mut self, op: &Op) -> Result<()> {
        serde_json::to_writer(&mut self.out, op).map_err(std::io::Error::from)?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    /// Pushes buffered lines to the underlying sink.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }

    /// Flushes and returns the underlying sink.
    pub fn into_inner(self) -> Result<W> {
        self.out
            .into_inner()
            .map_err(|e| Error::Stream(e.into_error()))
    }
}

/// Writes a whole history to a JSON Lines file.
pub fn write_jsonl(path: &Path, ops: &[Op]) -> Result<()> {
    let file = File::create(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut w = JsonlWriter::new(file);
    for op in ops {
        w.write(op)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};
    use serde_json::json;

    #[test]
    fn reads_the_design_example() {
        let text = r#"{"index":0,"process":3,"type":"invoke","f":"write","key":"k1","value":5,"time":1250000}
{"index":1,"process":3,"type":"ok","f":"write","key":"k1","value":5,"time":3810000}

{"index":2,"process":"nemesis","type":"info","f":"partition","value":{"isolate":[0]},"time":4000000}
"#;
        let ops: Vec<Op> = JsonlReader::new(text.as_bytes(), "t")
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].process, Process::Client(3));
        assert_eq!(ops[1].kind, OpType::Ok);
        assert_eq!(ops[1].key.as_deref(), Some("k1"));
        assert_eq!(ops[2].process, Process::Nemesis);
        assert_eq!(ops[2].value, json!({"isolate":[0]}));
    }

    #[test]
    fn malformed_line_reports_its_number() {
        let text = "{\"index\":0,\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n{\"index\":1,\"process\":1,\"type\":\"bogus\",\"f\":\"read\"}\n";
        let err = JsonlReader::new(text.as_bytes(), "h.jsonl")
            .collect::<Result<Vec<_>>>()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("h.jsonl:2:"), "{msg}");
    }

    #[test]
    fn round_trips_through_the_writer() {
        let ops = vec![
            Op::new(
                0,
                Process::Client(1),
                OpType::Invoke,
                "cas",
                json!([1, 2]),
                10,
            )
            .with_key("a"),
            Op::new(
                1,
                Process::Client(1),
                OpType::Fail,
                "cas",
                json!([1, 2]),
                20,
            )
            .with_key("a"),
        ];
        let mut w = JsonlWriter::new(Vec::new());
        for op in &ops {
            w.write(op).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let back: Vec<Op> = JsonlReader::new(&bytes[..], "mem")
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(back, ops);
    }
}
