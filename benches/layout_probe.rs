//! What the layout of per-agent state costs a block's passes: the same per-agent fields, updated
//! by the same passes, laid out two ways, at 64 to 65,536 envs on one thread. Socium keeps the
//! reward sums and the cultural donor game's state the second way (`Window`); on the Zen 5 EPYC
//! that gained the Python VecEnv about a tenth at 4,096 envs (docs/BENCHMARKS-LOG.md, "on an EPYC
//! again").
//!
//! ```sh
//! cargo bench --bench layout_probe -- [--repeats 5]
//! ```
//!
//! Each env has 12 agents and 8 per-agent `f64` fields (768 bytes), updated as a block's systems
//! update theirs: envs in blocks of 341, four passes over each block, each pass touching two
//! fields of every env of the block. *Per-env allocations* gives each env's field a `Vec` of its
//! own, as a component's vectors are today (docs/BENCHMARKS-LOG.md, "on an EPYC again");
//! *block-wide arrays* keeps each field in one array over every env, the envs' rows adjacent, as
//! the flat-array reference of the norms game does (`benches/norms_reference.rs`). Both are
//! timed alternately over the same env-steps; the table gives medians of nanoseconds an env-step
//! and each count's share of the 64-env rate. The state is 48 KiB at 64 envs, 12 MiB at 16,384
//! and 48 MiB at 65,536: compare with the machine's L2 and L3.
//!
//! Allocator: mimalloc, as the `socium` binary and the Python module use.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

const AGENTS: usize = 12;
const FIELDS: usize = 8;
const BLOCK_ENVS: usize = 341;
const PASSES: usize = 4;
const ENV_COUNTS: [usize; 5] = [64, 1024, 4096, 16384, 65536];
/// Env-steps timed at every count.
const ENV_STEPS: usize = 4_000_000;

/// The update every pass makes to each value of its fields: a read and a write, as a game's.
fn touch(values: &mut [f64]) {
    for x in values {
        *x = *x * 0.999 + 1.0;
    }
}

/// The fields a pass touches.
fn fields_of(pass: usize) -> std::ops::Range<usize> {
    pass * FIELDS / PASSES..(pass + 1) * FIELDS / PASSES
}

/// Each env's fields in allocations of their own, made env by env.
struct PerEnv(Vec<[Vec<f64>; FIELDS]>);

impl PerEnv {
    fn new(envs: usize) -> PerEnv {
        PerEnv(
            (0..envs)
                .map(|e| std::array::from_fn(|f| vec![(e + f) as f64; AGENTS]))
                .collect(),
        )
    }

    fn step(&mut self) {
        for block in self.0.chunks_mut(BLOCK_ENVS) {
            for pass in 0..PASSES {
                for env in block.iter_mut() {
                    for f in fields_of(pass) {
                        touch(&mut env[f]);
                    }
                }
            }
        }
    }

    /// Every value, field by field, env by env: the order of [`BlockWide`]'s arrays.
    fn values(&self) -> Vec<f64> {
        (0..FIELDS)
            .flat_map(|f| self.0.iter().flat_map(move |env| env[f].iter().copied()))
            .collect()
    }
}

/// Each field in one array over every env: env `e`'s agents at `e × AGENTS ..`.
struct BlockWide([Vec<f64>; FIELDS]);

impl BlockWide {
    fn new(envs: usize) -> BlockWide {
        BlockWide(std::array::from_fn(|f| {
            (0..envs * AGENTS)
                .map(|i| (i / AGENTS + f) as f64)
                .collect()
        }))
    }

    fn step(&mut self) {
        let envs = self.0[0].len() / AGENTS;
        for start in (0..envs).step_by(BLOCK_ENVS) {
            let rows = start * AGENTS..(start + BLOCK_ENVS).min(envs) * AGENTS;
            for pass in 0..PASSES {
                for row in rows.clone().step_by(AGENTS) {
                    for f in fields_of(pass) {
                        touch(&mut self.0[f][row..row + AGENTS]);
                    }
                }
            }
        }
    }

    fn values(&self) -> Vec<f64> {
        self.0.concat()
    }
}

/// Nanoseconds an env-step of `steps` runs of `step` over `envs` envs.
fn time(envs: usize, steps: usize, mut step: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..steps {
        step();
    }
    start.elapsed().as_secs_f64() * 1e9 / (steps * envs) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let repeats = match (args.next().as_deref(), args.next()) {
        (None, _) => 5,
        (Some("--repeats"), Some(n)) => n.parse().unwrap_or_else(|_| {
            eprintln!("layout_probe: --repeats takes a whole number, found {n:?}");
            std::process::exit(2)
        }),
        _ => {
            eprintln!("usage: cargo bench --bench layout_probe -- [--repeats R]");
            std::process::exit(2)
        }
    };
    println!(
        "{AGENTS} agents × {FIELDS} f64 fields an env, blocks of {BLOCK_ENVS} envs, {PASSES} passes; \
         1 thread, {ENV_STEPS} env-steps × {repeats} repeats (medians)"
    );
    println!(
        "| envs | state | per-env allocations, ns | vs 64 envs | block-wide arrays, ns | vs 64 envs |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut at_64 = (0.0, 0.0);
    for envs in ENV_COUNTS {
        let steps = ENV_STEPS / envs;
        let (mut per_env, mut block_wide) = (PerEnv::new(envs), BlockWide::new(envs));
        for _ in 0..10 {
            per_env.step();
            block_wide.step();
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            a.push(time(envs, steps, || per_env.step()));
            b.push(time(envs, steps, || block_wide.step()));
        }
        // Both layouts hold the same values: a check that both made every update.
        assert!(per_env.values() == block_wide.values());
        let (a, b) = (median(a), median(b));
        if envs == ENV_COUNTS[0] {
            at_64 = (a, b);
        }
        let mib = (envs * AGENTS * FIELDS * 8) as f64 / (1 << 20) as f64;
        println!(
            "| {envs} | {mib:.2} MiB | {a:.1} | {:.2} | {b:.1} | {:.2} |",
            at_64.0 / a,
            at_64.1 / b
        );
    }
}
