//! The command that repeats a run, derived from its settings: every setting that
//! differs from its default becomes its flag, in the order `--help` lists them. Nothing
//! here names a setting but the few that never belong in it (where the run is stored,
//! how progress is shown) and the name when it is the workload's own.

use super::settings::{settings_command, RunSettings};
use serde_json::Value;

/// Settings that do not change what a run does.
const NOT_REPRODUCED: [&str; 2] = ["store", "progress"];

impl RunSettings {
    /// `cargo run ... -- run` with a flag for every setting that differs from its
    /// default (resolved settings always carry their seed and nemesis, so both are
    /// always given). Bug settings add `--features seeded-bugs`.
    pub fn reproduce_command(&self) -> String {
        let mut cmd = if self.replica_bug.is_some() || self.client_bug.is_some() {
            String::from("cargo run --release -p harness --features seeded-bugs -- run")
        } else {
            String::from("cargo run --release -p harness -- run")
        };
        let given = to_object(self);
        let default = to_object(&RunSettings::default());
        for arg in settings_command().get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            let value = given.get(id).unwrap_or(&Value::Null);
            if NOT_REPRODUCED.contains(&id)
                || default.get(id) == Some(value)
                || (id == "name" && self.name() == self.workload.name())
            {
                continue;
            }
            match value {
                Value::Null | Value::Bool(false) => {}
                Value::Bool(true) => cmd.push_str(&format!(" --{long}")),
                // Repeated flags take `=`: their values may start with a hyphen.
                Value::Array(items) => {
                    for item in items {
                        cmd.push_str(&format!(" --{long}={}", shell_quote(&word(item))));
                    }
                }
                other => cmd.push_str(&format!(" --{long} {}", shell_quote(&word(other)))),
            }
        }
        cmd
    }
}

/// Settings as a JSON object, field name to value.
fn to_object(settings: &RunSettings) -> serde_json::Map<String, Value> {
    match serde_json::to_value(settings) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// A JSON value as a command-line word.
fn word(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `word`, quoted for a POSIX shell when it needs to be.
pub(crate) fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::WorkloadKind;

    #[test]
    fn only_what_differs_from_the_defaults_is_given() {
        let mut s = RunSettings {
            seed: Some(9),
            nemesis: Some("none".into()),
            workload: WorkloadKind::Kv,
            rate: 7.5,
            no_proxy: true,
            replica_args: vec!["--batch-size".into(), "1".into()],
            packet: Some("delay=50ms~20ms".into()),
            store: "elsewhere".into(),
            ..RunSettings::default()
        };
        assert_eq!(
            s.reproduce_command(),
            "cargo run --release -p harness -- run --workload kv --rate 7.5 --seed 9 \
             --replica-arg=--batch-size --replica-arg=1 --nemesis none \
             --packet 'delay=50ms~20ms' --no-proxy"
        );
        s.name = Some("kv".into());
        assert!(!s.reproduce_command().contains("--name"));
        s.name = Some("mine".into());
        s.replica_bug = Some("prepare-quorum".into());
        let cmd = s.reproduce_command();
        assert!(cmd.contains("--features seeded-bugs") && cmd.contains("--name mine"));
        assert!(cmd.contains("--replica-bug prepare-quorum"), "{cmd}");
    }
}
