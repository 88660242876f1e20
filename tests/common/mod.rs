//! Helpers shared by the end-to-end tests.

// Each test binary compiles this module and uses some of its helpers.
#![allow(dead_code)]

use socium::core::{
    EnvView, RewardEntry, Sim, SimConfig, Utterance, VecBuffers, VecEnv, derive_seed,
};
use socium::scenario::{RunError, Scenario, run};
use std::collections::BTreeMap;

/// The files `socium run` writes for `s` (into a temporary folder), by name.
pub fn run_outputs(s: &Scenario) -> Result<BTreeMap<String, Vec<u8>>, RunError> {
    let dir = tempfile::tempdir().unwrap();
    run(s, dir.path(), |_| {})?;
    Ok(std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read(e.path()).unwrap())
        })
        .collect())
}

/// Steps `sims` one by one with Gymnasium's NEXT_STEP autoreset, as a VecEnv promises to.
pub fn step_sequentially(sims: &mut [Sim], actions: &[f32], finished: &mut [bool]) -> VecBuffers {
    let mut out = VecBuffers::default();
    for (i, sim) in sims.iter_mut().enumerate() {
        let per = actions.len() / finished.len();
        if finished[i] {
            sim.reset(None);
        } else {
            sim.step(&actions[i * per..(i + 1) * per]).unwrap();
        }
        out.obs.extend(sim.env().observations());
        out.masks.extend(sim.env().action_masks());
        out.acting.extend(sim.env().acting());
        let zero = finished[i];
        out.rewards.extend(
            sim.env()
                .rewards()
                .iter()
                .map(|&r| if zero { 0.0 } else { r }),
        );
        out.reward_components.extend(
            sim.env()
                .reward_components()
                .iter()
                .map(|&r| if zero { 0.0 } else { r }),
        );
        out.terminated.extend(sim.env().terminated());
        out.truncated.extend(sim.env().truncated());
        out.actions.extend(sim.env().actions());
        finished[i] = sim.env().is_done();
    }
    out
}

/// Steps a VecEnv of `envs` envs of `s` (with `config`), seeded 77, `steps` times with zero
/// actions on 1 and on 2 threads, and its Sims one by one: returns the buffers after the reset
/// and every step, having checked that all three agree, in them and in each env's utterances and
/// reward entries.
pub fn vec_env_equals_sequential_stepping(
    name: &str,
    s: &Scenario,
    config: &SimConfig,
    envs: usize,
    steps: usize,
) -> Vec<VecBuffers> {
    let agents = config.agents.len();
    let actions = vec![0.0; envs * agents * s.game.action_space(agents).flat_dim()];
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let seeds = VecEnv::seeds(77, envs);
            let mut env = VecEnv::new(&*s.game, config, &seeds).unwrap();
            env.reset(Some(&seeds)).unwrap();
            let records = |env: &VecEnv| (0..envs).map(|i| records(env.env(i))).collect::<Vec<_>>();
            let mut trace = vec![(env.outputs().clone(), records(&env))];
            for _ in 0..steps {
                env.step(&actions).unwrap();
                trace.push((env.outputs().clone(), records(&env)));
            }
            trace
        })
    };
    let one = run_with(1);
    assert!(
        one == run_with(2),
        "{name}: the buffers or records differ on 1 and 2 threads"
    );

    let mut sims: Vec<Sim> = (0..envs)
        .map(|i| {
            let config = SimConfig {
                seed: derive_seed(77, i as u64),
                ..config.clone()
            };
            Sim::new(&*s.game, config).unwrap()
        })
        .collect();
    let mut finished = vec![false; envs];
    for (t, (expected, expected_records)) in one.iter().enumerate().skip(1) {
        let got = step_sequentially(&mut sims, &actions, &mut finished);
        assert!(
            &got == expected,
            "{name}: step {t}: the VecEnv differs from its Sims stepped one by one"
        );
        let got_records: Vec<_> = sims.iter().map(|sim| records(sim.env())).collect();
        assert!(
            &got_records == expected_records,
            "{name}: step {t}: the VecEnv's utterances or reward entries differ from its Sims'"
        );
    }
    one.into_iter().map(|(outputs, _)| outputs).collect()
}

/// An env's records of its last step: its utterances (without their text, which a VecEnv renders
/// only where asked) and reward entries.
fn records(env: EnvView) -> (Vec<Utterance>, Vec<RewardEntry>) {
    let said = env.utterances().iter();
    let said = said.map(|u| Utterance {
        text: None,
        ..u.clone()
    });
    (said.collect(), env.reward_entries().to_vec())
}
