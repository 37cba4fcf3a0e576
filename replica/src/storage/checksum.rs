//! Checksums on what the replica persists, so that a torn or corrupted record is never
//! executed (issue 22).
//!
//! - A log line is `<16 hex digits> <json>\n`: the first 64 bits of the SHA-256 of the
//!   JSON bytes, a space, the JSON.
//! - A snapshot file is `<64 hex digits>\n<json>`: the whole SHA-256, a newline, the JSON.
//!
//! Reading a log ([`decode_log`]) sorts the lines into three cases:
//! - a last line without its newline, or a last complete line that fails its checksum,
//!   is a **torn tail**: the write that made it never finished (a crash or a power loss
//!   mid-append). With `--fsync always` no message that depended on it left, since the
//!   record is fsynced before them, so it is cut off and forgotten;
//! - a line that fails its checksum with good lines after it is **corruption**: records
//!   that messages depended on can no longer be trusted, and the replica refuses to start
//!   ([`Corrupt`]) rather than run with amnesia (which PBFT tolerates only as one of its
//!   f faults: the operator decides, e.g. wipes the directory and lets state transfer
//!   bring the replica back);
//! - what the checksums cannot see: whole records that vanished (a power loss under
//!   `--fsync batch|never`, or a file cut at a line boundary).

use sha2::{Digest as _, Sha256};

/// Hex digits of the checksum at the start of a log line.
const LINE_SUM_HEX: usize = 16;
/// Bytes before a log line's JSON: the checksum and a space.
pub(crate) const LINE_PREFIX: usize = LINE_SUM_HEX + 1;

/// Why a persisted file cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corrupt {
    /// A log line in the middle of the file fails its checksum or has no checksum.
    #[error("line {line} (byte {offset}) fails its checksum and {later} line(s) follow it")]
    LogLine {
        /// 1-based line number.
        line: usize,
        /// Byte offset of the line's start.
        offset: u64,
        /// How many lines follow it.
        later: usize,
    },
    /// The snapshot's checksum line is missing or does not match its contents.
    #[error("snapshot checksum {reason}")]
    Snapshot {
        /// What is wrong.
        reason: String,
    },
}

fn line_sum(json: &[u8]) -> String {
    hex::encode(&Sha256::digest(json)[..LINE_SUM_HEX / 2])
}

/// Encodes one JSON value as a checksummed log line (newline included).
pub fn encode_line(json: &[u8]) -> Vec<u8> {
    let mut line = Vec::with_capacity(json.len() + LINE_SUM_HEX + 2);
    line.extend_from_slice(line_sum(json).as_bytes());
    line.push(b' ');
    line.extend_from_slice(json);
    line.push(b'\n');
    line
}

/// The JSON of one line (without its newline) if its checksum matches.
fn verified(line: &[u8]) -> Option<&[u8]> {
    if line.len() < LINE_SUM_HEX + 1 || line[LINE_SUM_HEX] != b' ' {
        return None;
    }
    let (sum, json) = (&line[..LINE_SUM_HEX], &line[LINE_SUM_HEX + 1..]);
    (sum == line_sum(json).as_bytes()).then_some(json)
}

/// A log read back: the JSON of every good line, and where the good part ends.
#[derive(Debug, PartialEq, Eq)]
pub struct DecodedLog<'a> {
    /// The JSON of each verified line, in order.
    pub lines: Vec<&'a [u8]>,
    /// Length of the good prefix; anything after it is a torn tail to cut off.
    pub good_len: u64,
    /// A torn tail was found (and is to be cut off).
    pub torn_tail: bool,
}

/// Splits a log file's bytes into verified lines; see the module doc for the cases.
pub fn decode_log(bytes: &[u8]) -> Result<DecodedLog<'_>, Corrupt> {
    let mut lines = Vec::new();
    let mut offset = 0usize;
    let mut raw: Vec<(usize, &[u8], bool)> = Vec::new();
    while offset < bytes.len() {
        match bytes[offset..].iter().position(|b| *b == b'\n') {
            Some(n) => {
                raw.push((offset, &bytes[offset..offset + n], true));
                offset += n + 1;
            }
            None => {
                raw.push((offset, &bytes[offset..], false));
                offset = bytes.len();
            }
        }
    }
    let count = raw.len();
    for (i, (start, line, complete)) in raw.into_iter().enumerate() {
        let json = if complete { verified(line) } else { None };
        match json {
            Some(json) => lines.push(json),
            None if i + 1 == count => {
                return Ok(DecodedLog {
                    lines,
                    good_len: start as u64,
                    torn_tail: true,
                })
            }
            None => {
                return Err(Corrupt::LogLine {
                    line: i + 1,
                    offset: start as u64,
                    later: count - i - 1,
                })
            }
        }
    }
    Ok(DecodedLog {
        lines,
        good_len: bytes.len() as u64,
        torn_tail: false,
    })
}

/// Encodes a snapshot's JSON with its checksum line in front.
pub fn encode_snapshot(json: &[u8]) -> Vec<u8> {
    let mut out = hex::encode(Sha256::digest(json)).into_bytes();
    out.push(b'\n');
    out.extend_from_slice(json);
    out
}

/// The JSON of a snapshot file if its checksum matches.
pub fn decode_snapshot(bytes: &[u8]) -> Result<&[u8], Corrupt> {
    let Some(nl) = bytes.iter().position(|b| *b == b'\n') else {
        return Err(Corrupt::Snapshot {
            reason: "line is missing (file empty or cut)".to_string(),
        });
    };
    let (sum, json) = (&bytes[..nl], &bytes[nl + 1..]);
    if sum != hex::encode(Sha256::digest(json)).as_bytes() {
        return Err(Corrupt::Snapshot {
            reason: format!(
                "does not match the {} bytes of contents (corrupted or torn)",
                json.len()
            ),
        });
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| encode_line(l.as_bytes()))
            .collect()
    }

    #[test]
    fn good_lines_come_back_whole() {
        let bytes = log(&["{\"a\":1}", "{\"b\":2}"]);
        let d = decode_log(&bytes).unwrap();
        assert_eq!(d.lines, vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!((d.good_len, d.torn_tail), (bytes.len() as u64, false));
        assert_eq!(decode_log(b"").unwrap().lines.len(), 0);
    }

    #[test]
    fn a_partial_last_line_is_a_torn_tail() {
        let good = log(&["{\"a\":1}"]);
        let mut bytes = good.clone();
        bytes.extend_from_slice(&encode_line(b"{\"b\":2}")[..10]);
        let d = decode_log(&bytes).unwrap();
        assert_eq!(d.lines.len(), 1);
        assert_eq!((d.good_len, d.torn_tail), (good.len() as u64, true));
    }

    #[test]
    fn a_complete_last_line_with_a_bad_checksum_is_a_torn_tail() {
        let good = log(&["{\"a\":1}"]);
        let mut bytes = good.clone();
        let mut last = encode_line(b"{\"b\":2}");
        last[20] ^= 0x01;
        bytes.extend_from_slice(&last);
        let d = decode_log(&bytes).unwrap();
        assert_eq!(d.lines.len(), 1);
        assert_eq!((d.good_len, d.torn_tail), (good.len() as u64, true));
    }

    #[test]
    fn a_bad_line_in_the_middle_is_corruption() {
        let mut bytes = log(&["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
        let second = encode_line(b"{\"a\":1}").len();
        bytes[second + 18] = 0; // inside the second line's JSON
        assert_eq!(
            decode_log(&bytes),
            Err(Corrupt::LogLine {
                line: 2,
                offset: second as u64,
                later: 1
            })
        );
        // A line without a checksum (the old format) is no better.
        let mut old = b"{\"a\":1}\n".to_vec();
        old.extend_from_slice(&log(&["{\"b\":2}"]));
        assert!(matches!(
            decode_log(&old),
            Err(Corrupt::LogLine { line: 1, .. })
        ));
    }

    #[test]
    fn snapshots_verify_and_any_damage_is_caught() {
        let bytes = encode_snapshot(b"{\"seq\":8}");
        assert_eq!(decode_snapshot(&bytes).unwrap(), b"{\"seq\":8}");
        for damage in [
            |b: &mut Vec<u8>| b[70] ^= 0xff,
            |b: &mut Vec<u8>| b.truncate(b.len() - 1),
            |b: &mut Vec<u8>| b.truncate(30),
            |b: &mut Vec<u8>| b[3] = b'x',
        ] {
            let mut bad = bytes.clone();
            damage(&mut bad);
            assert!(decode_snapshot(&bad).is_err());
        }
    }
}
