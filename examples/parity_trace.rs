//! Writes what the Rust API gives for a fixed seed and action sequence, as JSON traces in the
//! folder given, for the Python parity test (crates/socium-py/tests/test_parity.py), which runs
//! `cargo run --example parity_trace -- DIR` and compares its env and vector env against them in
//! the same run.

use socium::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Scenario, seed, steps; the external agents always give 0.3 (donor) or alternate (IPD).
const CASES: [(&str, u64, usize); 2] = [("donor_learner", 5, 60), ("ipd_learner", 5, 120)];

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: parity_trace DIR"))?
        .into();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&dir)?;
    for (name, seed, steps) in CASES {
        let mut s = Scenario::load(&root.join(format!("scenarios/{name}.toml")))?;
        s.config.seed = seed;
        let mut sim = s.sim()?;
        let per = sim.spaces().action.flat_dim();
        let mut trace = Vec::new();
        for t in 0..steps {
            if sim.env().is_done() {
                sim.reset(None);
            }
            let mut actions = vec![0.0; sim.agent_count() * per];
            for a in sim.external_agents() {
                actions[a.index() * per] = if name == "donor_learner" {
                    0.3
                } else {
                    (t % 2) as f32
                };
            }
            sim.step(&actions)?;
            trace.push(serde_json::json!({
                "obs": sim.env().observations(),
                "rewards": sim.env().rewards(),
                "terminated": sim.env().terminated(),
            }));
        }
        let json = serde_json::json!({ "seed": seed, "steps": trace });
        std::fs::write(dir.join(format!("{name}.json")), json.to_string())?;
    }
    Ok(())
}
