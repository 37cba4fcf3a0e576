//! Coverage-guided search for failing schedules (`harness explore`).
//!
//! Cases are drawn in batches of [`BATCH`]. Case `i` is made from its own seed,
//! [`case_seed`]`(seed, i)`, and from the corpus as it stood after the previous batch:
//! either a fresh schedule ([`draw`]) or, with feedback on, a mutant ([`mutate`]) of a
//! corpus entry, a case that once reached protocol states ([`crate::coverage`]) no
//! earlier case had. A batch runs on any number of threads and is absorbed in index
//! order, so what the search finds depends on the seed alone, never on the threads.
//!
//! - [`draw`]: fresh random schedules within the fault bound.
//! - [`mutate`]: mutants of a schedule.

pub mod draw;
pub mod mutate;

use crate::case::Case;
use crate::coverage::Point;
use crate::report::SimReport;
use crate::{simulate, Result};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use replica::bugs::Bug;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Cases per batch: the corpus is updated between batches only (a constant, so that
/// the search does not depend on the number of threads).
pub const BATCH: usize = 8;

/// The ChaCha stream a case's schedule is drawn from.
const STREAM: u64 = 1 << 45;

/// Share of cases made by mutating the corpus (when there is one, with feedback).
const MUTATE_SHARE: f64 = 0.7;

/// What to explore.
#[derive(Clone, Debug)]
pub struct ExploreSettings {
    /// The base seed: case i's seed is [`case_seed`]`(seed, i)`.
    pub seed: u64,
    /// Fault bound: n = 3f+1 replicas.
    pub f: usize,
    /// Planted bugs switched on.
    pub bugs: Vec<Bug>,
    /// Workload phase of each case, whole seconds.
    pub time_limit_s: u64,
    /// Prefer mutants of cases that reached new coverage (off: every case is fresh).
    pub feedback: bool,
    /// Worker threads.
    pub jobs: usize,
}

/// Where a case came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A fresh random schedule.
    Fresh,
    /// A mutant of corpus entry `k`.
    Mutant(usize),
}

/// One case run.
#[derive(Debug)]
pub struct Outcome {
    /// Its index in the search.
    pub index: u64,
    /// The case.
    pub case: Case,
    /// Where it came from.
    pub origin: Origin,
    /// The run's report (or why the case could not be simulated).
    pub report: Result<SimReport>,
    /// Coverage points it reached first.
    pub new_points: Vec<Point>,
}

/// The search's state: the corpus and the coverage map.
#[derive(Debug)]
pub struct Explorer {
    settings: ExploreSettings,
    corpus: Vec<Case>,
    coverage: BTreeMap<Point, u64>,
    next: u64,
}

/// Case `index`'s seed: a SplitMix64 step over the base seed and the index.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Explorer {
    /// A search with an empty corpus.
    pub fn new(settings: ExploreSettings) -> Explorer {
        Explorer {
            settings,
            corpus: Vec::new(),
            coverage: BTreeMap::new(),
            next: 0,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ExploreSettings {
        &self.settings
    }

    /// Every coverage point reached, with the index of the first case that reached it.
    pub fn coverage(&self) -> &BTreeMap<Point, u64> {
        &self.coverage
    }

    /// Cases kept for mutation.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    /// Cases run so far.
    pub fn runs(&self) -> u64 {
        self.next
    }

    /// Case `index`, from the corpus as it stands.
    pub fn candidate(&self, index: u64) -> (Case, Origin) {
        let s = &self.settings;
        let seed = case_seed(s.seed, index);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(STREAM);
        let t = s.time_limit_s * 1000;
        let mut case = Case::new(seed, s.time_limit_s);
        case.f = s.f;
        case.bugs = s.bugs.clone();
        if s.feedback && !self.corpus.is_empty() && rng.gen_bool(MUTATE_SHARE) {
            let k = rng.gen_range(0..self.corpus.len());
            let parent = &self.corpus[k];
            if rng.gen_bool(0.5) {
                case.seed = parent.seed;
            }
            case.schedule = mutate::mutate_schedule(&mut rng, &parent.schedule, s.f, t);
            (case, Origin::Mutant(k))
        } else {
            case.schedule = draw::draw_schedule(&mut rng, s.f, t);
            (case, Origin::Fresh)
        }
    }

    /// Draws the next batch, runs it on the settings' threads and absorbs it: cases
    /// that reached new points join the corpus. Returns the outcomes in index order.
    pub fn run_batch(&mut self) -> Vec<Outcome> {
        let first = self.next;
        let cases: Vec<(Case, Origin)> = (0..BATCH as u64)
            .map(|k| self.candidate(first + k))
            .collect();
        let reports = run_all(&cases, self.settings.jobs.max(1));
        self.next += BATCH as u64;
        let mut outcomes = Vec::with_capacity(BATCH);
        for (k, ((case, origin), report)) in cases.into_iter().zip(reports).enumerate() {
            let index = first + k as u64;
            let mut new_points = Vec::new();
            if let Ok(r) = &report {
                for p in &r.coverage {
                    if !self.coverage.contains_key(p) {
                        self.coverage.insert(p.clone(), index);
                        new_points.push(p.clone());
                    }
                }
            }
            if !new_points.is_empty() {
                self.corpus.push(case.clone());
            }
            outcomes.push(Outcome {
                index,
                case,
                origin,
                report,
                new_points,
            });
        }
        outcomes
    }
}

/// Runs every case on `jobs` threads; the reports in the cases' order.
fn run_all(cases: &[(Case, Origin)], jobs: usize) -> Vec<Result<SimReport>> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<SimReport>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(cases.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((case, _)) = cases.get(i) else {
                    break;
                };
                let report = case.config().and_then(simulate);
                if let Ok(mut slots) = slots.lock() {
                    slots[i] = Some(report);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            r.unwrap_or(Err(crate::Error::Invalid {
                field: "case",
                message: "a worker thread died".into(),
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_seeds_differ_and_candidates_are_a_function_of_the_seed() {
        assert_ne!(case_seed(1, 0), case_seed(1, 1));
        assert_ne!(case_seed(1, 0), case_seed(2, 0));
        let settings = ExploreSettings {
            seed: 9,
            f: 1,
            bugs: Vec::new(),
            time_limit_s: 4,
            feedback: true,
            jobs: 1,
        };
        let a = Explorer::new(settings.clone());
        let b = Explorer::new(settings);
        for i in 0..20 {
            assert_eq!(a.candidate(i), b.candidate(i));
        }
    }
}
