//! Colours shared by the plots, the report and the timeline: one per fault family and
//! one per operation kind and outcome, so a partition is the same orange everywhere.

/// The fault family of a nemesis start operation (`start-partition` -> `partition`).
pub fn fault_family(f: &str) -> &str {
    match f {
        "start-partition" => "partition",
        "start-packet" => "packet",
        "kill" => "kill",
        "pause" => "pause",
        "bump-clock" | "strobe-clock" | "rate-clock" => "clock",
        "lose-unsynced" | "torn-write" | "corrupt" | "read-error" => "disk",
        other => other.strip_prefix("start-").unwrap_or(other),
    }
}

/// The shading colour of a fault family.
pub fn fault_color(family: &str) -> &'static str {
    match family {
        "partition" => "#e6550d",
        "packet" => "#3182bd",
        "kill" => "#d62728",
        "pause" => "#9467bd",
        "clock" => "#2ca02c",
        "byzantine" => "#8c564b",
        "disk" => "#bcbd22",
        _ => "#7f7f7f",
    }
}

/// The colour of operations of kind `f` with `outcome` (ok, fail, info).
pub fn op_color(f: &str, outcome: &str) -> &'static str {
    match (f, outcome) {
        (_, "info") => "#d62728",
        ("read", "ok") => "#1f77b4",
        ("read", _) => "#9ecae1",
        ("write", "ok") => "#2ca02c",
        ("write", _) => "#a1d99b",
        ("cas", "ok") => "#9467bd",
        ("cas", _) => "#ff7f0e",
        ("append", "ok") => "#17becf",
        ("append", _) => "#fdae6b",
        (_, "ok") => "#393b79",
        _ => "#bcbd22",
    }
}
