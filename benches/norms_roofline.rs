//! The roofline of the norms game: scenarios/leading_eight.toml played by the flat-array reference
//! of its rules (`norms_reference.rs`, bit-identical to Socium, checked by
//! `tests/norms_reference.rs`) and by Socium's `VecEnv`, on one thread, in one run.
//!
//! ```sh
//! cargo bench --bench norms_roofline -- --steps 200 --repeats 5 [--envs 64,1024]
//! ```
//!
//! For each env count both sides start from `VecEnv::seeds(seed, envs)`, warm up with the same
//! steps, then are timed alternately (the order flips at every repeat) over the same steps with
//! all-zero actions (every agent is scripted); the table gives medians, and the median of each
//! repeat's own ratio (its two sides timed back to back), which a slow spell of a shared machine
//! skews less. Decisions are acting donors, counted as `socium bench vecenv` counts them (acting
//! agents before each step); both sides play the same rounds, so their counts must be equal, and
//! are checked. Socium's envs keep no per-act
//! records (`SimConfig::records`), as a trainer's `VecEnv(..., records=False)`: the reference keeps
//! none either.
//!
//! Threads: Socium runs in a one-thread rayon pool. Rayon's idle workers spin for a while after
//! each parallel call, which would slow a single-threaded measurement running beside them, so the
//! reference is timed on that same pool thread, inside the same `install`, between Socium's steps:
//! the pool's only worker is then busy with the reference itself, and the main thread sleeps on
//! `install`'s latch. As a control, the reference is also timed on the main thread before any
//! rayon pool exists in the process (last column).
//!
//! Allocator: mimalloc, as the `socium` binary and the Python module use (it packs each Sim's many
//! small allocations; the reference allocates nothing while it steps).

mod norms_reference;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use norms_reference::{NormsReference, NormsRules};
use socium::core::VecEnv;
use socium::scenario::Scenario;
use std::path::Path;
use std::time::Instant;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/leading_eight.toml");

/// Warm-up steps of each side before timing.
const WARM_UP: usize = 50;

/// Command-line settings.
struct Args {
    steps: usize,
    repeats: usize,
    envs: Vec<usize>,
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "norms_roofline: {problem}\n\
         usage: cargo bench --bench norms_roofline -- [--steps N] [--repeats R] [--envs A,B,..]"
    );
    std::process::exit(2)
}

/// Parses `--steps N --repeats R --envs A,B` (cargo's own `--bench` flag is ignored).
fn parse_args() -> Args {
    let mut args = Args {
        steps: 200,
        repeats: 5,
        envs: vec![64, 1024],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let number = |v: &str| -> usize {
            v.parse()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or_else(|| usage(&format!("{flag}: `{v}` is not a positive number")))
        };
        match flag.as_str() {
            "--bench" => {}
            "--steps" => args.steps = number(&value()),
            "--repeats" => args.repeats = number(&value()),
            "--envs" => args.envs = value().split(',').map(number).collect(),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    args
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Decisions per second of a timed run.
fn rate((seconds, decisions): (f64, u64)) -> f64 {
    decisions as f64 / seconds
}

/// Times `steps` reference steps: (seconds, decisions).
fn time_reference(reference: &mut NormsReference, steps: usize) -> (f64, u64) {
    let start = Instant::now();
    let decisions: u64 = (0..steps).map(|_| reference.step()).sum();
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(reference.rewards());
    (seconds, decisions)
}

/// A VecEnv of the scenario and all-zero actions.
struct Socium {
    env: VecEnv,
    actions: Vec<f32>,
}

impl Socium {
    fn new(s: &Scenario, seeds: &[u64]) -> Socium {
        let mut env = VecEnv::new(&*s.game, &s.config, seeds).expect("the VecEnv builds");
        let agents = s.config.agents.len();
        let actions = vec![0.0; seeds.len() * agents * s.game.action_space(agents).flat_dim()];
        env.reset(Some(seeds)).expect("one seed an env");
        Socium { env, actions }
    }

    /// Times `steps` steps: (seconds, decisions, counted as acting agents before each step).
    fn time(&mut self, steps: usize) -> (f64, u64) {
        let mut decisions = 0;
        let start = Instant::now();
        for _ in 0..steps {
            decisions += self.env.outputs().acting.iter().filter(|&&a| a).count() as u64;
            self.env.step(&self.actions).expect("actions fit");
        }
        (start.elapsed().as_secs_f64(), decisions)
    }
}

/// One row of the table: rates are medians over the repeats.
struct Row {
    envs: usize,
    /// Mean decisions per repeat.
    decisions: u64,
    reference: f64,
    socium: f64,
    /// Each repeat's reference/Socium, the two timed back to back: a slow spell of a shared
    /// machine slows both sides of a pair alike, where it would skew a ratio of medians.
    paired: Vec<f64>,
    reference_before_pool: f64,
}

fn main() {
    let args = parse_args();
    let text = std::fs::read_to_string(FILE).expect("the scenario is readable");
    let mut s = Scenario::parse(&text, Path::new(FILE)).unwrap_or_else(|e| panic!("{e}"));
    s.config.records = false;
    let rules = NormsRules::from_scenario(&text, &s.config).expect("a public norms scenario");
    let agents = s.config.agents.len();

    // The control: the reference on the main thread, before any rayon pool exists.
    let before_pool: Vec<f64> = args
        .envs
        .iter()
        .map(|&envs| {
            let mut reference =
                NormsReference::new(rules.clone(), &VecEnv::seeds(s.config.seed, envs));
            time_reference(&mut reference, WARM_UP);
            median(
                (0..args.repeats)
                    .map(|_| rate(time_reference(&mut reference, args.steps)))
                    .collect(),
            )
        })
        .collect();

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let mut rows = Vec::new();
    for (&envs, &reference_before_pool) in args.envs.iter().zip(&before_pool) {
        let seeds = VecEnv::seeds(s.config.seed, envs);
        let row = pool.install(|| {
            let mut socium = Socium::new(&s, &seeds);
            let mut reference = NormsReference::new(rules.clone(), &seeds);
            time_reference(&mut reference, WARM_UP);
            socium.time(WARM_UP);
            let (mut reference_rates, mut socium_rates, mut paired) =
                (Vec::new(), Vec::new(), Vec::new());
            let mut decisions = 0;
            for repeat in 0..args.repeats {
                let (r, s) = if repeat % 2 == 0 {
                    let r = time_reference(&mut reference, args.steps);
                    (r, socium.time(args.steps))
                } else {
                    let s = socium.time(args.steps);
                    (time_reference(&mut reference, args.steps), s)
                };
                assert_eq!(r.1, s.1, "both sides play the same rounds");
                decisions += r.1;
                reference_rates.push(rate(r));
                socium_rates.push(rate(s));
                paired.push(rate(r) / rate(s));
            }
            // A last check that both sides played the same game (the test checks every step).
            assert_eq!(reference.num_envs(), socium.env.num_envs());
            assert!(
                reference.rewards() == &socium.env.outputs().rewards[..]
                    && reference
                        .acting()
                        .eq(socium.env.outputs().acting.iter().copied()),
                "both sides end with the same rewards and acting agents"
            );
            Row {
                envs,
                decisions: decisions / args.repeats as u64,
                reference: median(reference_rates),
                socium: median(socium_rates),
                paired,
                reference_before_pool,
            }
        });
        rows.push(row);
    }

    println!(
        "{} ({agents} agents), 1 thread, {} steps x {} repeats (medians), warm-up {WARM_UP} steps",
        s.name, args.steps, args.repeats
    );
    println!(
        "| envs | decisions/repeat | reference decisions/s | Socium decisions/s | \
         reference/Socium | paired, median (range) | reference before any pool |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let (low, high) = r
            .paired
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
        println!(
            "| {} | {} | {:.3e} | {:.3e} | {:.2} | {:.2} ({low:.2}–{high:.2}) | {:.3e} |",
            r.envs,
            r.decisions,
            r.reference,
            r.socium,
            r.reference / r.socium,
            median(r.paired.clone()),
            r.reference_before_pool
        );
    }
}
