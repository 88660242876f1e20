//! Golden outputs: every bundled scenario, seeds 1 and 2, must give byte for byte the outputs
//! recorded in `tests/goldens.txt` — the files `socium run` writes (`transcript.jsonl`,
//! `metrics.csv`, `summary.json`) and the buffers of a `VecEnv` of 8 envs over 50 steps
//! (observations, masks, acting flags, rewards, reward components, terminations, truncations),
//! stepped on 1 and on 2 threads.
//!
//! The goldens guard behaviour through redesigns of the kernel: a change that alters any output
//! of any scenario fails here. Each output is kept as its SHA-256 digest and length (the outputs
//! themselves are tens of megabytes). On a mismatch the outputs are written under
//! `target/goldens/` so they can be compared with those of the commit that recorded the goldens.
//! `SOCIUM_BLESS=1 cargo test --test goldens` records them anew: only for a change that means to
//! alter outputs, said in its commit message.

mod common;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use socium::core::{VecBuffers, VecEnv};
use socium::scenario::Scenario;
use std::{collections::BTreeMap, fmt::Write as _, path::Path};

const SEEDS: [u64; 2] = [1, 2];
const ENVS: usize = 8;
const STEPS: usize = 50;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every scenario in `scenarios/`, by file name, but those with language-model agents
/// (`*_llm.toml`): they need a server (tests/llm_model.rs plays one against the real model).
fn bundled() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml") && !n.ends_with("_llm.toml"))
        .collect();
    names.sort();
    names
}

/// The outputs of `socium run`, by file name; none for a scenario that `socium run` refuses
/// (external agents).
fn run_outputs(scenario: &Scenario) -> BTreeMap<String, Vec<u8>> {
    common::run_outputs(scenario).unwrap_or_default()
}

/// The buffers of a VecEnv of `ENVS` envs seeded `seed`, reset then stepped `STEPS` times on
/// `threads` threads, every step's buffers appended in order. External agents act by a seeded
/// uniform draw over their legal actions.
fn vec_env_buffers(scenario: &Scenario, seed: u64, threads: usize) -> Vec<u8> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let seeds = VecEnv::seeds(seed, ENVS);
        let mut env = VecEnv::new(&*scenario.game, &scenario.config, &seeds).unwrap();
        env.reset(None).unwrap();
        let space = env.spaces().action.clone();
        let external = env.external_agents().to_vec();
        let agents = env.agent_count();
        let (per_agent, mask_dim) = (space.flat_dim(), space.mask_dim());
        let mut actions = vec![0.0f32; ENVS * agents * per_agent];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut bytes = Vec::new();
        append(&mut bytes, env.outputs());
        for _ in 0..STEPS {
            let buf = env.outputs();
            for e in 0..ENVS {
                for a in &external {
                    let row = e * agents + a.index();
                    if !buf.acting[row] {
                        continue;
                    }
                    let mask = &buf.masks[row * mask_dim..(row + 1) * mask_dim];
                    let out = &mut actions[row * per_agent..(row + 1) * per_agent];
                    space.sample(&mut rng, mask, out);
                }
            }
            env.step(&actions).unwrap();
            append(&mut bytes, env.outputs());
        }
        bytes
    })
}

fn append(bytes: &mut Vec<u8>, b: &VecBuffers) {
    bytes.extend(b.obs.iter().flat_map(|x| x.to_le_bytes()));
    bytes.extend(&b.masks);
    bytes.extend(b.acting.iter().map(|&x| x as u8));
    bytes.extend(b.rewards.iter().flat_map(|x| x.to_le_bytes()));
    bytes.extend(b.reward_components.iter().flat_map(|x| x.to_le_bytes()));
    bytes.extend(b.terminated.iter().map(|&x| x as u8));
    bytes.extend(b.truncated.iter().map(|&x| x as u8));
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            write!(s, "{b:02x}").unwrap();
            s
        })
}

#[test]
fn every_bundled_scenario_gives_its_golden_outputs() {
    let goldens = root().join("tests/goldens.txt");
    let bless = std::env::var_os("SOCIUM_BLESS").is_some();
    let want: BTreeMap<String, String> = match bless {
        true => BTreeMap::new(),
        false => std::fs::read_to_string(&goldens)
            .unwrap()
            .lines()
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').unwrap();
                let (key, len) = key.rsplit_once(' ').unwrap();
                (key.to_owned(), format!("{len} {value}"))
            })
            .collect(),
    };
    let mut lines = String::new();
    let mut differ = Vec::new();
    let kept = root().join("target/goldens");
    for name in bundled() {
        let scenario = Scenario::load(&root().join("scenarios").join(&name)).unwrap();
        for seed in SEEDS {
            let mut scenario = scenario.clone();
            scenario.config.seed = seed;
            let mut outputs = run_outputs(&scenario);
            let one = vec_env_buffers(&scenario, seed, 1);
            let two = vec_env_buffers(&scenario, seed, 2);
            assert!(
                one == two,
                "{name}, seed {seed}: the VecEnv's buffers differ between 1 and 2 threads"
            );
            outputs.insert(format!("vec_env_{ENVS}x{STEPS}.bin"), one);
            for (file, bytes) in &outputs {
                let key = format!("{name} {seed} {file}");
                let got = format!("{} {}", bytes.len(), digest(bytes));
                writeln!(lines, "{key} {got}").unwrap();
                if !bless && want.get(&key) != Some(&got) {
                    let dir = kept.join(&name).join(seed.to_string());
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(dir.join(file), bytes).unwrap();
                    differ.push(format!("  {key}: want {:?}, got {got}", want.get(&key)));
                }
            }
        }
    }
    if bless {
        std::fs::write(&goldens, &lines).unwrap();
        return;
    }
    let missing: Vec<&String> = want
        .keys()
        .filter(|k| !lines.lines().any(|l| l.starts_with(k.as_str())))
        .collect();
    assert!(
        differ.is_empty() && missing.is_empty(),
        "outputs differ from tests/goldens.txt (kept in {}):\n{}\nmissing: {missing:?}",
        kept.display(),
        differ.join("\n"),
    );
}
