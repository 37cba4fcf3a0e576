//! A suite file (`harness suite FILE.toml`): a matrix of `harness run` settings for
//! nightly CI, expanded into cells, each one run.
//!
//! ```toml
//! name = "smoke"          # default: the file's stem
//! repetitions = 1         # every cell this many times (seeds differ)
//! seed = 1                # base seed: cell i gets seed + i [default: from the clock]
//!
//! [defaults]              # any `harness run` key (snake_case), for every cell
//! rate = 20
//! time_limit = 20
//!
//! [matrix]                # each key a list: every combination is a cell, named by
//!                         # its values in key order (`none-register`)
//! workload = ["register", "kv"]
//! nemesis = ["none", "partition,kill"]
//!
//! [[case]]                # extra cells, each a table of run keys
//! name = "isolate-primary"
//! scenario = "isolate-primary"
//! ```
//!
//! Unknown keys, in the suite's own table or in any cell, are errors, as are bad values:
//! every cell is resolved into a [`RunConfig`] before anything runs.

use super::RunConfig;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;
use toml::{Table, Value};

/// The suite file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    name: Option<String>,
    #[serde(default = "one")]
    repetitions: u32,
    seed: Option<u64>,
    #[serde(default)]
    defaults: Table,
    #[serde(default)]
    matrix: Table,
    #[serde(default)]
    case: Vec<Table>,
}

fn one() -> u32 {
    1
}

/// One run of the suite.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    /// Its position in the whole expansion (what sharding and seeds count by).
    pub(crate) index: usize,
    /// Its name, unique in the suite (the run's test name).
    pub(crate) name: String,
    /// Its settings as TOML keys (seed and name included; the store is added when run).
    pub(crate) table: Table,
    /// The resolved configuration.
    pub(crate) config: RunConfig,
}

/// A suite, expanded.
#[derive(Debug)]
pub(crate) struct Suite {
    /// Its name.
    pub(crate) name: String,
    /// The base seed.
    pub(crate) seed: u64,
    /// Every cell, in order.
    pub(crate) cells: Vec<Cell>,
}

/// Which part of a suite this machine runs: `index` of `count` (1-based, `i/n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    /// This shard, 1..=count.
    pub(crate) index: usize,
    /// How many shards.
    pub(crate) count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("shard {s:?} is not i/n with 1 <= i <= n (e.g. 2/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the cell at `index` is this shard's (round robin).
    pub(crate) fn owns(&self, index: usize) -> bool {
        index % self.count == self.index - 1
    }
}

/// A name made of letters, digits, '-', '_' and '.'.
fn sanitize(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Suite {
    /// Reads and expands a suite file; `seed` is used when the file sets none.
    pub(crate) fn load(path: &Path, clock_seed: u64) -> Result<Suite> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read suite file {}", path.display()))?;
        let file: SuiteFile =
            toml::from_str(&text).with_context(|| format!("bad suite file {}", path.display()))?;
        let name = match &file.name {
            Some(n) => n.clone(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "suite".into()),
        };
        let name = sanitize(&name);
        if name.is_empty() {
            bail!("suite file {}: the suite needs a name", path.display());
        }
        if file.repetitions == 0 {
            bail!(
                "suite file {}: repetitions must be at least 1",
                path.display()
            );
        }
        let seed = file.seed.unwrap_or(clock_seed);
        // The matrix's combinations, in the order its keys are written.
        let mut combos: Vec<(Table, Vec<String>)> = vec![(Table::new(), Vec::new())];
        for (key, values) in &file.matrix {
            let Value::Array(values) = values else {
                bail!(
                    "suite file {}: matrix.{key} must be a list of values",
                    path.display()
                );
            };
            if values.is_empty() {
                bail!("suite file {}: matrix.{key} is empty", path.display());
            }
            let mut next = Vec::new();
            for (table, label) in &combos {
                for v in values {
                    let mut t = table.clone();
                    t.insert(key.clone(), v.clone());
                    let mut l = label.clone();
                    l.push(value_text(v));
                    next.push((t, l));
                }
            }
            combos = next;
        }
        if file.matrix.is_empty() && !file.case.is_empty() {
            combos.clear();
        }
        let mut bases: Vec<(Table, String)> = combos
            .into_iter()
            .map(|(t, labels)| {
                let label = if labels.is_empty() {
                    name.clone()
                } else {
                    labels.join("-")
                };
                (t, label)
            })
            .collect();
        for (i, case) in file.case.iter().enumerate() {
            let label = match case.get("name") {
                Some(n) => value_text(n),
                None => ["workload", "scenario", "nemesis"]
                    .iter()
                    .filter_map(|k| case.get(*k).map(value_text))
                    .collect::<Vec<_>>()
                    .join("-"),
            };
            let label = if label.is_empty() {
                format!("case{}", i + 1)
            } else {
                label
            };
            bases.push((case.clone(), label));
        }
        let mut cells = Vec::new();
        let mut names = std::collections::BTreeSet::new();
        for (table, label) in &bases {
            for rep in 1..=file.repetitions {
                let index = cells.len();
                let mut t = file.defaults.clone();
                for (k, v) in table {
                    t.insert(k.clone(), v.clone());
                }
                let mut name = sanitize(label);
                if file.repetitions > 1 {
                    name.push_str(&format!("-r{rep}"));
                }
                while !names.insert(name.clone()) {
                    name.push_str(&format!("-{index}"));
                }
                t.insert("name".into(), Value::String(name.clone()));
                if !t.contains_key("seed") {
                    let s = seed.wrapping_add(index as u64);
                    // TOML integers are i64.
                    t.insert(
                        "seed".into(),
                        Value::Integer((s & (i64::MAX as u64)) as i64),
                    );
                }
                let config = RunConfig::from_table(&t)
                    .with_context(|| format!("suite file {}: run {name:?}", path.display()))?;
                cells.push(Cell {
                    index,
                    name,
                    table: t,
                    config,
                });
            }
        }
        if cells.is_empty() {
            bail!(
                "suite file {}: no runs (give a [matrix] or [[case]])",
                path.display()
            );
        }
        Ok(Suite { name, seed, cells })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, text).unwrap();
        Suite::load(&path, 100)
    }

    #[test]
    fn a_matrix_expands_into_named_seeded_cells() {
        let s = load(
            r#"
            repetitions = 2
            [defaults]
            rate = 10
            time_limit = 5
            [matrix]
            workload = ["register", "kv"]
            nemesis = ["none", "partition,kill"]
            [[case]]
            name = "isolate"
            scenario = "isolate-primary"
            time_limit = 30
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.cells.len(), 10);
        let names: Vec<&str> = s.cells.iter().map(|c| c.name.as_str()).collect();
        // Matrix keys combine in key order (nemesis, then workload).
        assert_eq!(names[0], "none-register-r1");
        assert_eq!(names[3], "none-kv-r2");
        assert_eq!(names[5], "partition_kill-register-r2");
        assert_eq!(names[9], "isolate-r2");
        assert_eq!(s.cells[5].config.settings.nemesis(), "partition,kill");
        assert_eq!(s.cells[5].config.settings.rate, 10.0);
        assert_eq!(s.cells[5].config.settings.seed(), 105);
        // A case's keys override the defaults.
        assert_eq!(s.cells[9].config.settings.time_limit, 30);
        assert_eq!(
            s.cells[9].config.settings.scenario.as_deref(),
            Some("isolate-primary")
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = format!(
            "{:#}",
            load("nmae = \"x\"\n[matrix]\nf = [1]\n").unwrap_err()
        );
        assert!(e.contains("nmae"), "{e}");
        let e = format!("{:#}", load("[matrix]\nworklaod = [\"kv\"]\n").unwrap_err());
        assert!(e.contains("worklaod"), "{e}");
        let e = format!(
            "{:#}",
            load("[matrix]\nnemesis = [\"bogus\"]\n").unwrap_err()
        );
        assert!(e.contains("bogus"), "{e}");
        assert!(load("[matrix]\nf = 1\n").is_err());
        assert!(load("repetitions = 0\n[matrix]\nf = [1]\n").is_err());
        // No matrix and no case: one run with the defaults, named after the suite.
        let one = load("name = \"x\"\n").unwrap();
        assert_eq!(one.cells.len(), 1);
        assert_eq!(one.cells[0].name, "x");
    }

    #[test]
    fn shards_split_the_cells_round_robin() {
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for i in 0..10 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
