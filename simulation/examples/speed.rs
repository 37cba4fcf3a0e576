//! Simulated time per CPU second on the default workload (4 replicas, 5 clients,
//! read/write/cas on 3 keys at 50 ops/s), without faults and under a mixed schedule.
//!
//! ```sh
//! cargo run --release -p simulation --example speed -- [SEEDS] [SECONDS]
//! ```

use nemesis::{Family, PacketSpec, Schedule};
use simulation::{simulate, SimConfig};
use std::time::Instant;

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
            let started = Instant::now();
            let report = simulate(config)?;
            cpu += started.elapsed().as_secs_f64();
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
