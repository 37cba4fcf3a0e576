//! A run's configuration, resolved: the settings layered (defaults, then the
//! `--config` file or a suite's cell, then the flags), completed (seed, name, nemesis,
//! a scenario's time limit), validated, and the fault plan built from them, once.

use super::settings::RunSettings;
use anyhow::{anyhow, bail, Context, Result};
use nemesis::{PlanSpec, Schedule};
use replica::bugs::{Bug, ClientBug};
use serde_json::{Map, Value};
use std::path::Path;

/// What a run runs with: its settings, complete, and the fault schedule they plan.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The settings, with the seed, the name and the nemesis filled in (stored whole in
    /// the run's `test.json`).
    pub settings: RunSettings,
    /// The fault schedule, validated against the cluster and the time limit.
    pub schedule: Schedule,
}

impl RunConfig {
    /// Defaults, overridden by the TOML file `file` (if given), overridden by the
    /// settings among `flags` whose ids are in `explicit` (those given on the command
    /// line). Errors here are bad input (exit 254).
    pub fn resolve(
        file: Option<&Path>,
        flags: &RunSettings,
        explicit: &[String],
    ) -> Result<RunConfig> {
        let mut layered = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                // Parsed as settings first, for errors that name the line and the key.
                let _: RunSettings = toml::from_str(&text)
                    .with_context(|| format!("bad config file {}", path.display()))?;
                let table: toml::Table = toml::from_str(&text)?;
                json_object(&table)?
            }
            None => Map::new(),
        };
        let given = json_object(flags)?;
        for id in explicit {
            if let Some(v) = given.get(id) {
                layered.insert(id.clone(), v.clone());
            }
        }
        RunConfig::from_layers(layered)
    }

    /// The configuration of a TOML table of settings (a suite's cell), completed and
    /// validated like [`RunConfig::resolve`]'s.
    pub fn from_table(table: &toml::Table) -> Result<RunConfig> {
        let _: RunSettings = table.clone().try_into()?;
        RunConfig::from_layers(json_object(table)?)
    }

    /// Settings from the keys given (the rest default), completed and validated.
    fn from_layers(layered: Map<String, Value>) -> Result<RunConfig> {
        let time_limit_given = layered.contains_key("time_limit");
        let mut settings: RunSettings = serde_json::from_value(Value::Object(layered))?;
        complete(&mut settings, time_limit_given)?;
        validate(&settings)?;
        let schedule = plan(&settings)?;
        Ok(RunConfig { settings, schedule })
    }
}

/// A value as a JSON object (TOML tables and settings alike).
fn json_object(value: &impl serde::Serialize) -> Result<Map<String, Value>> {
    match serde_json::to_value(value)? {
        Value::Object(map) => Ok(map),
        other => Err(anyhow!("expected a table of settings, got {other}")),
    }
}

/// Fills in the nemesis, the seed (from the clock), the name and a scenario's time
/// limit (unless a time limit was given).
fn complete(s: &mut RunSettings, time_limit_given: bool) -> Result<()> {
    s.nemesis = Some(s.nemesis().to_string());
    if s.seed.is_none() {
        s.seed = Some(clock_seed());
    }
    if s.name.is_none() {
        s.name = Some(s.workload.name().to_string());
    }
    if let Some(scenario) = &s.scenario {
        let (_, time_limit) = Schedule::scenario(scenario)?;
        if !time_limit_given {
            s.time_limit = time_limit;
        }
    }
    Ok(())
}

/// The fault plan of the settings (see [`nemesis::plan`]).
fn plan(s: &RunSettings) -> Result<Schedule> {
    Ok(PlanSpec {
        f: s.f,
        time_limit_s: s.time_limit,
        seed: s.seed(),
        families: s.nemesis(),
        interval_s: s.nemesis_interval,
        schedule_file: s.nemesis_schedule.as_deref(),
        scenario: s.scenario.as_deref(),
        packet: s.packet.as_deref(),
        byzantine: s.byzantine,
        byzantine_replicas: s.byzantine_replicas.as_deref(),
        byzantine_mutators: &s.byzantine_mutators,
        allow_unsafe_byzantine: s.allow_unsafe_byzantine,
        allow_unsafe_disk: s.allow_unsafe_disk,
        no_proxy: s.no_proxy,
    }
    .plan()?)
}

impl RunSettings {
    /// The seeded client bug, if one is asked for.
    pub fn client_bug(&self) -> Result<Option<ClientBug>> {
        self.client_bug
            .as_deref()
            .map(|name| ClientBug::parse(name).map_err(|e| anyhow!(e)))
            .transpose()
    }
}

/// Refuses seeded bugs with unknown names, or in a build that cannot switch them on.
fn validate_bugs(s: &RunSettings) -> Result<()> {
    if s.replica_bug.is_none() && s.client_bug.is_none() {
        return Ok(());
    }
    // The bugs live in the replica crate: its feature decides (the harness's own
    // `seeded-bugs` feature turns it on, and so do test builds).
    if !ClientBug::available() {
        bail!(
            "seeded bugs need a harness built with the seeded-bugs feature: \
             cargo run --release -p harness --features seeded-bugs -- ..."
        );
    }
    for name in s.replica_bug.iter().flat_map(|l| l.split(',')) {
        Bug::parse(name.trim()).map_err(|e| anyhow!(e))?;
    }
    s.client_bug()?;
    Ok(())
}

/// Checks every setting that does not depend on the fault plan.
fn validate(s: &RunSettings) -> Result<()> {
    validate_bugs(s)?;
    if s.f == 0 {
        bail!("f must be at least 1");
    }
    if s.concurrency == 0 {
        bail!("concurrency must be at least 1");
    }
    if !(s.rate.is_finite() && s.rate > 0.0) {
        bail!("rate must be a positive number, got {}", s.rate);
    }
    if s.time_limit == 0 {
        bail!("time limit must be at least 1 second");
    }
    if s.op_timeout_ms == 0 {
        bail!("op timeout must be at least 1 ms");
    }
    if s.ready_timeout == 0 {
        bail!("ready timeout must be at least 1 second");
    }
    let name = s.name();
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        bail!("test name {name:?} must be letters, digits, '-', '_' or '.' (not leading)");
    }
    if let Some(bin) = &s.replica_bin {
        if !bin.is_file() {
            bail!("replica binary {} is not a file", bin.display());
        }
    }
    s.generator()
        .validate()
        .context("bad workload parameters")?;
    if s.nemesis_interval == 0 {
        bail!("nemesis interval must be at least 1 second");
    }
    // The harness must know T (the availability bound follows from it).
    if s.replica_args
        .iter()
        .any(|a| a.starts_with("--view-change-timeout-ms"))
    {
        bail!(
            "give the view-change timeout as --view-change-timeout-ms (view_change_timeout_ms \
             in a file), not through --replica-arg"
        );
    }
    if s.stall == Some(0) {
        bail!("stall must be at least 1 second");
    }
    Ok(())
}

/// A seed from the wall clock, for runs that were not given one.
fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
