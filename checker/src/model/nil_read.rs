//! What a completed read of `nil` means: Knossos's "unknown" or Porcupine's "empty".

use super::ModelKind;
use crate::error::{Error, Result};
use crate::import::HistoryFormat;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How a read that completed `ok` with the value `nil` (JSON `null`) is checked.
///
/// The two meanings are both in use, and a history only has one of them:
///
/// - Knossos's `register`, `cas-register` and `multi-register` step functions accept a read
///   of `nil` in any state (`(or (nil? (:value op)) (= value (:value op)))` in
///   `knossos/model.clj`): the client did not learn what it read. That is [`NilRead::Any`].
/// - Porcupine's etcd model, and this project's own harness (a read of a missing key
///   returns `nil` on purpose), mean the empty register: a read of `nil` must find the
///   register empty. That is [`NilRead::Value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NilRead {
    /// A read of `nil` constrains nothing (Knossos).
    Any,
    /// A read of `nil` saw the value `nil` (Porcupine's etcd logs, this project's JSONL).
    #[default]
    Value,
}

impl NilRead {
    /// The names accepted by [`FromStr`].
    pub const NAMES: &'static str = "any, value";

    /// The option's name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NilRead::Any => "any",
            NilRead::Value => "value",
        }
    }

    /// The meaning a history in `format` checked with `model` most likely has:
    /// [`NilRead::Any`] for EDN (Jepsen/Knossos) histories checked with one of Knossos's
    /// register models (`register`, `cas-register`, `multi-register`), else
    /// [`NilRead::Value`] (Jepsen log lines as Porcupine reads them, this project's JSON
    /// Lines, Porcupine's kv histories). The `mutex` model has no reads; the answer does
    /// not change its verdicts.
    pub fn default_for(format: HistoryFormat, model: ModelKind) -> NilRead {
        match (format, model) {
            (
                HistoryFormat::Edn,
                ModelKind::Register | ModelKind::CasRegister | ModelKind::MultiRegister,
            ) => NilRead::Any,
            _ => NilRead::Value,
        }
    }
}

impl fmt::Display for NilRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NilRead {
    type Err = Error;

    /// Parses `any` or `value`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "any" => Ok(NilRead::Any),
            "value" => Ok(NilRead::Value),
            _ => Err(Error::UnknownName {
                what: "nil-read meaning",
                name: s.to_string(),
                expected: Self::NAMES,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in [NilRead::Any, NilRead::Value] {
            assert_eq!(n.to_string().parse::<NilRead>().unwrap(), n);
        }
        let err = "nil".parse::<NilRead>().unwrap_err();
        assert!(err.to_string().contains("any, value"), "{err}");
    }

    #[test]
    fn defaults_follow_the_format_and_the_model() {
        use HistoryFormat::*;
        use ModelKind::*;
        for model in [Register, CasRegister, MultiRegister] {
            assert_eq!(NilRead::default_for(Edn, model), NilRead::Any);
            assert_eq!(NilRead::default_for(Jsonl, model), NilRead::Value);
            assert_eq!(NilRead::default_for(JepsenLog, model), NilRead::Value);
        }
        for format in [Edn, Jsonl, JepsenLog] {
            assert_eq!(NilRead::default_for(format, Kv), NilRead::Value);
        }
    }
}
