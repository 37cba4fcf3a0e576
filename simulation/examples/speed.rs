//! Simulated time per CPU second on the default workload (4 replicas, 5 clients,
//! read/write/cas on 3 keys at 50 ops/s), without faults and under a mixed schedule
//! (the nemesis's generated schedule of partitions, packet faults, kills and pauses).
//! CPU time is the thread's own (`/proc/thread-self/schedstat`), so a loaded machine
//! does not lower the figure.
//!
//! ```sh
//! cargo run --release -p simulation --example speed -- [SEEDS] [SECONDS]
//! ```

use nemesis::{Family, PacketSpec, Schedule};
use simulation::{simulate, SimConfig};
use std::time::Instant;

/// CPU time of this thread (s), from `/proc/thread-self/schedstat` on Linux; wall
/// time elsewhere (then the figure is per wall second, lower on a loaded machine).
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(|| wall.elapsed().as_secs_f64(), |ns| ns as f64 / 1e9)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(Ok(3), |s| s.parse())?;
    let seconds: u64 = args.next().map_or(Ok(60), |s| s.parse())?;
    for faults in [false, true] {
        let (mut simulated_ms, mut cpu, mut ops) = (0u64, 0f64, 0u64);
        for seed in 0..seeds {
            let mut config = SimConfig::new(seed);
            config.time_limit_ms = seconds * 1000;
            if faults {
                let families = [
                    Family::Partition,
                    Family::Packet,
                    Family::Kill,
                    Family::Pause,
                ];
                config.schedule = Schedule::generate(
                    &families,
                    5_000,
                    config.time_limit_ms,
                    &PacketSpec::default_faults(),
                    seed,
                );
            }
            let (wall, before) = (Instant::now(), cpu_seconds(Instant::now()));
            let report = simulate(config)?;
            cpu += cpu_seconds(wall) - before;
            simulated_ms += report.simulated_ms;
            ops += report.ops.invoked;
            println!("  {}", report.summary());
        }
        println!(
            "{}: {:.1} simulated s in {:.2} CPU s: {:.0}x real time, {:.0} ops per CPU s",
            if faults { "mixed faults" } else { "no faults" },
            simulated_ms as f64 / 1000.0,
            cpu,
            simulated_ms as f64 / 1000.0 / cpu,
            ops as f64 / cpu
        );
    }
    Ok(())
}
