//! ONNX policies as controllers: batching (one forward pass per model per step across a VecEnv),
//! determinism whatever the threads or batching, extras, and every bad-model error.
//!
//! The models are built by `assets/policies/make_policies.py`; ONNX Runtime comes from the
//! project's `.venv` (`scripts/python-env`) or `ORT_DYLIB_PATH`.

use socium::core::{
    AgentId, Controller, PolicyController, Selection, Sim, SimConfig, StepError, VecBuffers,
    VecEnv, VecStepError,
};
use socium::policy::{LoadError, OnnxPolicy};
use socium::scenario::{Scenario, run};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn model(name: &str) -> PathBuf {
    root().join("assets/policies").join(name)
}

/// A scenario from TOML text, anchored in the repository root.
fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, &root().join("test.toml")).unwrap()
}

/// The cultural donor game with punishment and refusal (action Tuple(Discrete(3), Box(1))), 12
/// agents: 6 on `donor_mlp.onnx` by argmax, 4 sampling from it at temperature 1, 2 scripted.
fn donor_scenario() -> Scenario {
    scenario(
        r#"
        [scenario]
        name = "donor with policies"
        seed = 5
        [game.donor_cultural]
        punishment = true
        refusal = true
        [[agents]]
        count = 6
        policy = "assets/policies/donor_mlp.onnx"
        [[agents]]
        count = 4
        policy = "assets/policies/donor_mlp.onnx"
        temperature = 1.0
        [[agents]]
        count = 2
        strategy = "reciprocal"
        "#,
    )
}

fn policy_of(config: &SimConfig, agent: usize) -> &PolicyController {
    match &config.agents[agent].controller {
        Controller::Policy(p) => p,
        other => panic!("agent {agent} is {other:?}"),
    }
}

/// `config` with every policy agent switched to `policy` (keeping its selection).
fn with_policy(config: &SimConfig, policy: &Arc<OnnxPolicy>) -> SimConfig {
    let mut config = config.clone();
    for a in &mut config.agents {
        if let Controller::Policy(p) = &mut a.controller {
            p.policy = policy.clone();
        }
    }
    config
}

#[test]
fn an_onnx_tit_for_tat_plays_move_for_move_like_the_scripted_one() {
    let outputs = |file: &str| {
        let s = Scenario::load(&root().join("scenarios").join(file)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let summary = run(&s, dir.path(), |_| {}).unwrap();
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        let returns: Vec<f64> = summary.groups.iter().map(|g| g.mean_return).collect();
        (returns, read("metrics.csv"), read("transcript.jsonl"))
    };
    let (onnx, scripted) = (outputs("ipd_onnx.toml"), outputs("ipd_tournament.toml"));
    assert_eq!(onnx.0, scripted.0, "returns per group");
    assert_eq!(onnx.1, scripted.1, "metrics.csv");
    assert!(onnx.2 == scripted.2, "transcript.jsonl differs");
    assert!(!onnx.2.is_empty());
}

/// `s`'s config on two models: the file itself, and a copy under another name for the sampling
/// agents (6..10).
fn on_two_models(s: &Scenario) -> (SimConfig, Arc<OnnxPolicy>, Arc<OnnxPolicy>) {
    let spaces = s.sim().unwrap().spaces().clone();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("donor_mlp_copy.onnx");
    std::fs::copy(model("donor_mlp.onnx"), &copy).unwrap();
    let first = Arc::new(OnnxPolicy::load(&model("donor_mlp.onnx"), &spaces, None).unwrap());
    let second = Arc::new(OnnxPolicy::load(&copy, &spaces, None).unwrap());
    let mut config = with_policy(&s.config, &first);
    for a in &mut config.agents[6..10] {
        if let Controller::Policy(p) = &mut a.controller {
            p.policy = second.clone();
        }
    }
    (config, first, second)
}

#[test]
fn one_forward_pass_per_model_per_step_across_256_envs() {
    let s = donor_scenario();
    let spaces = s.sim().unwrap().spaces().clone();
    let (config, first, second) = on_two_models(&s);
    let mut env = VecEnv::new(&*s.game, &config, &VecEnv::seeds(1, 256)).unwrap();
    env.reset(None).unwrap();
    let actions = vec![0.0; env.outputs().acting.len() * spaces.action.flat_dim()];
    // An episode is 12 rounds × 2 games = 24 steps, each with donors acting in every env.
    let mut stepping = std::time::Duration::ZERO;
    let mut timed_step = |env: &mut VecEnv| {
        let start = std::time::Instant::now();
        env.step(&actions).unwrap();
        stepping += start.elapsed();
    };
    for step in 1..=24 {
        timed_step(&mut env);
        assert_eq!((first.calls(), second.calls()), (step, step));
    }
    assert!(env.outputs().terminated.iter().all(|&t| t));
    // The next step resets every env (NEXT_STEP autoreset): nobody acts, no pass runs.
    timed_step(&mut env);
    assert_eq!((first.calls(), second.calls()), (24, 24));
    // The controller's time holds both models' forward passes, and is part of the steps' time
    // as measured from outside (a timer counting a pass twice, or running across steps, would
    // exceed it).
    let forward = first.forward_time() + second.forward_time();
    assert!(!forward.is_zero());
    assert!(
        forward <= env.policy_time() && env.policy_time() <= stepping,
        "forward {forward:?}, policy {:?}, steps {stepping:?}",
        env.policy_time()
    );
}

/// The outputs (the actions taken among them) at each of `steps` steps of a VecEnv of `config`.
fn trajectory(s: &Scenario, config: &SimConfig, seeds: &[u64], steps: usize) -> Vec<VecBuffers> {
    let mut env = VecEnv::new(&*s.game, config, seeds).unwrap();
    env.reset(None).unwrap();
    let actions = vec![0.0; env.outputs().actions.len()];
    let mut out = Vec::new();
    for _ in 0..steps {
        env.step(&actions).unwrap();
        out.push(env.outputs().clone());
    }
    out
}

#[test]
fn agents_split_over_two_copies_of_a_model_act_as_on_one() {
    // Two batches a step instead of one, each gathered from its own part of every env's slot:
    // the same rows meet the same weights, so every action and reward is the same.
    let s = donor_scenario();
    let (two, first, second) = on_two_models(&s);
    let seeds = VecEnv::seeds(3, 8);
    assert!(trajectory(&s, &s.config, &seeds, 30) == trajectory(&s, &two, &seeds, 30));
    assert!(first.calls() > 0 && second.calls() == first.calls());
}

#[test]
fn onnx_controllers_are_deterministic_whatever_the_threads_or_the_batching() {
    let s = donor_scenario();
    let seeds = VecEnv::seeds(9, 16);
    let in_pool = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| trajectory(&s, &s.config, &seeds, 30))
    };
    let one = in_pool(1);
    assert!(one == in_pool(2), "1 thread and 2 threads differ");
    // The sampling agents draw from each env's own stream: the same Sims stepped one by one (a
    // batch of one env per pass) act the same.
    let action_dim = s.game.action_space(s.config.agents.len()).flat_dim();
    let agents = s.config.agents.len();
    for (e, &seed) in seeds.iter().enumerate() {
        let config = SimConfig {
            seed,
            ..s.config.clone()
        };
        let mut sim = Sim::new(&*s.game, config).unwrap();
        sim.reset(None); // as the VecEnv was
        for (t, out) in one.iter().enumerate().take(24) {
            sim.step(&vec![0.0; agents * action_dim]).unwrap();
            let batched = &out.actions[e * agents * action_dim..(e + 1) * agents * action_dim];
            assert_eq!(sim.env().actions(), batched, "env {e}, step {t}");
            assert_eq!(
                sim.env().rewards(),
                &out.rewards[e * agents..(e + 1) * agents]
            );
        }
    }
    // Sampling at temperature 1 does sample: some acting sampler took a non-argmax move.
    let moves: Vec<f32> = one
        .iter()
        .flat_map(|out| out.actions.chunks(action_dim).map(|a| a[0]))
        .collect();
    assert!(moves.contains(&0.0) && moves.iter().any(|&m| m != 0.0));
}

#[test]
fn extra_outputs_are_kept_on_each_policy_agent() {
    let s = donor_scenario();
    let mut sim = s.sim().unwrap();
    let acting: Vec<bool> = sim.env().acting().to_vec();
    let n = sim.agent_count() * sim.spaces().action.flat_dim();
    sim.step(&vec![0.0; n]).unwrap();
    let extras = sim.env().policy_extras();
    for (a, &acted) in acting.iter().enumerate().take(10) {
        let value = extras.get(AgentId(a as u32), "value").unwrap();
        assert_eq!(value.len(), 1);
        // Written for the agents that acted, still zero for the others.
        assert_eq!(value[0] != 0.0, acted, "agent {a}: {value:?}");
    }
    assert_eq!(extras.get(AgentId(0), "logits"), None);
    assert_eq!(extras.get(AgentId(11), "value"), None, "scripted agent");
    // A reset starts the episode with zeros, as a fresh Sim does.
    sim.reset(Some(s.config.seed));
    let extras = sim.env().policy_extras();
    for a in 0..10 {
        assert_eq!(
            extras.get(AgentId(a), "value"),
            Some(&[0.0][..]),
            "agent {a}"
        );
    }
    assert_eq!(policy_of(&s.config, 0).selection, Selection::Argmax);
    assert_eq!(
        policy_of(&s.config, 6).selection,
        Selection::Sample { temperature: 1.0 }
    );
}

#[test]
fn a_policy_states_its_belief_through_its_belief_head() {
    use socium::games::deduction::among_us::{LISTENING, obs};
    // One ONNX player among four scripted Bayesian ones in the Among Us-style game; the model
    // always waits, and its belief head's logits are ln of `stated`.
    let s = scenario(
        r#"
        [scenario]
        name = "among us with a policy"
        seed = 4
        max_steps = 150
        [game.among_us]
        [[agents]]
        policy = "assets/policies/among_us_belief.onnx"
        [[agents]]
        strategy = "bayesian"
        count = 4
        "#,
    );
    let stated = [0.1f32, 0.15, 0.2, 0.25, 0.3];
    let mut sim = s.sim().unwrap();
    let n = sim.agent_count() * sim.spaces().action.flat_dim();
    let at = obs::belief(5, 6);
    let (mut acted_steps, mut listened) = (0, 0);
    for _ in 0..2000 {
        if sim.env().is_done() {
            sim.reset(None);
        }
        let acted = sim.env().acting()[0];
        sim.step(&vec![0.0; n]).unwrap();
        // What it stated is what the game holds, and shows it.
        if acted {
            acted_steps += 1;
            let held = &sim.env().observations()[at..at + 5];
            for (p, q) in held.iter().zip(stated) {
                assert!((p - q).abs() < 1e-6, "{held:?}");
            }
        }
        let dim = sim.spaces().observation.flat_dim();
        let imposter = (0..5)
            .find(|&j| sim.env().observations()[j * dim + obs::IMPOSTER] == 1.0)
            .unwrap();
        for e in sim.env().reward_entries() {
            if e.agent == AgentId(0) && e.dimension == LISTENING {
                let want = f64::from(stated[imposter]).ln();
                assert!((e.value - want).abs() < 1e-6, "{} vs {want}", e.value);
                listened += 1;
            }
        }
    }
    assert!(
        acted_steps > 500 && listened > 20,
        "{acted_steps} {listened}"
    );
}

#[test]
fn envs_whose_policy_agents_act_in_varying_numbers_act_as_their_sims_alone() {
    // Among Us: who acts changes from step to step (turns to speak, deaths) and episodes end at
    // different steps, so each env's rows in the batch move often.
    let s = scenario(
        r#"
        [scenario]
        name = "among us, three policy players"
        seed = 8
        max_steps = 150
        [game.among_us]
        [[agents]]
        policy = "assets/policies/among_us_belief.onnx"
        count = 3
        [[agents]]
        strategy = "bayesian"
        count = 2
        "#,
    );
    let seeds = VecEnv::seeds(2, 6);
    let mut env = VecEnv::new(&*s.game, &s.config, &seeds).unwrap();
    let mut sims: Vec<Sim> = seeds
        .iter()
        .map(|&seed| {
            let config = SimConfig {
                seed,
                ..s.config.clone()
            };
            Sim::new(&*s.game, config).unwrap()
        })
        .collect();
    let per_env = s.config.agents.len() * sims[0].spaces().action.flat_dim();
    let (zeros, actions) = (vec![0.0; per_env], vec![0.0; seeds.len() * per_env]);
    let mut batch_sizes = std::collections::BTreeSet::new();
    for t in 0..400 {
        let acting = (0..seeds.len())
            .map(|e| (0..3).filter(|a| env.outputs().acting[e * 5 + a]).count())
            .sum::<usize>();
        batch_sizes.insert(acting);
        env.step(&actions).unwrap();
        let out = env.outputs();
        for (e, sim) in sims.iter_mut().enumerate() {
            match sim.env().is_done() {
                true => sim.reset(None),
                false => sim.step(&zeros).unwrap(),
            }
            let batched = &out.actions[e * per_env..(e + 1) * per_env];
            assert_eq!(sim.env().actions(), batched, "env {e}, step {t}");
            assert_eq!(
                sim.env().rewards(),
                &out.rewards[e * 5..(e + 1) * 5],
                "env {e}, step {t}"
            );
        }
    }
    assert!(batch_sizes.len() >= 4, "{batch_sizes:?}");
}

/// The repeated game's spaces (obs 7, Discrete(2)), which the invalid models are made for.
fn ipd_spaces() -> socium::core::Spaces {
    let s = Scenario::load(&root().join("scenarios/ipd_tournament.toml")).unwrap();
    s.sim().unwrap().spaces().clone()
}

#[test]
fn each_bad_model_gets_its_own_error() {
    let spaces = ipd_spaces();
    let load = |name: &str| OnnxPolicy::load(&model(name), &spaces, None).unwrap_err();
    let text = |e: &LoadError| e.to_string();

    let e = load("invalid/missing.onnx");
    assert!(matches!(e, LoadError::Unreadable { .. }), "{e:?}");
    assert!(text(&e).contains("invalid/missing.onnx: cannot read the model"));

    let e = load("invalid/not_onnx.onnx");
    assert!(matches!(e, LoadError::NotOnnx { .. }), "{e:?}");
    assert!(text(&e).contains("not_onnx.onnx: not a valid ONNX model"));

    let e = load("invalid/wrong_obs_width.onnx");
    assert!(
        text(&e).ends_with(
            "wrong_obs_width.onnx: input `obs`: expected shape [batch, 7] with a dynamic batch \
             dimension, found [-1, 8]"
        ),
        "{e}"
    );
    let e = load("invalid/fixed_batch.onnx");
    assert!(
        matches!(&e, LoadError::Shape { found, .. } if found == "[1, 7]"),
        "{e}"
    );

    let e = load("invalid/wrong_dtype.onnx");
    assert!(
        text(&e).ends_with("wrong_dtype.onnx: input `obs`: expected float32, found float64"),
        "{e}"
    );

    let e = load("invalid/wrong_action_count.onnx");
    assert!(
        matches!(
            e,
            LoadError::ActionCount {
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(text(&e).contains(
        "output `logits` gives 3 values per agent, but the action space Discrete(2) needs 2"
    ));

    let e = load("invalid/state_without_next_state.onnx");
    assert!(
        text(&e).ends_with(
            "state_without_next_state.onnx: input `state` [batch, 1] needs an output \
             `next_state` of the same width, the state to read back at the next pass"
        ),
        "{e}"
    );

    // A model for another game's spaces: the donor model's obs is 13 wide.
    let e = load("donor_mlp.onnx");
    assert!(
        text(&e).contains("input `obs`: expected shape [batch, 7]"),
        "{e}"
    );
}

#[test]
fn a_scenario_points_at_the_policy_that_fails_to_load() {
    let err = Scenario::parse(
        "[scenario]\nname = \"x\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
         [[agents]]\npolicy = \"assets/policies/invalid/wrong_action_count.onnx\"\n",
        &root().join("bad.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad.toml:7:10: `agents[1].policy`: "), "{err}");
    assert!(
        err.contains("needs 2 (a logit per discrete choice"),
        "{err}"
    );
    let err = Scenario::parse(
        "[scenario]\nname = \"x\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\ntemperature = 1\n\
         [[agents]]\nstrategy = \"tft\"\n",
        &root().join("bad.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with("`temperature` belongs to a `policy`"),
        "{err}"
    );
}

#[test]
fn a_nan_output_fails_the_step_naming_model_and_agent_and_moves_nothing() {
    non_finite_output_fails_the_step("nan_output", "action head entry 1 is NaN");
}

#[test]
fn an_infinite_output_fails_the_step_naming_model_and_agent_and_moves_nothing() {
    non_finite_output_fails_the_step("inf_output", "action head entry 0 is -inf");
}

/// A step of a tft player against `assets/policies/invalid/{model}.onnx`, whose logits are not
/// finite, is refused with `says`, in a Sim and a VecEnv, and nothing moves.
fn non_finite_output_fails_the_step(model: &str, says: &str) {
    let s = scenario(&format!(
        "[scenario]\nname = \"bad\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
         [[agents]]\npolicy = \"assets/policies/invalid/{model}.onnx\"\n"
    ));
    let mut sim = s.sim().unwrap();
    let obs = sim.env().observations().to_vec();
    let err = sim.step(&[0.0, 0.0]).unwrap_err();
    assert!(
        matches!(
            &err,
            StepError::PolicyOutput {
                agent: AgentId(1),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("policy `{model}.onnx` for agent 1: {says}")
    );
    assert_eq!(sim.env().clock().step(), 0);
    assert_eq!(sim.env().observations(), obs);

    let mut env = VecEnv::new(&*s.game, &s.config, &[1, 2]).unwrap();
    env.reset(None).unwrap();
    let before = env.outputs().clone();
    let err = env.step(&[0.0; 4]).unwrap_err();
    assert!(matches!(err, VecStepError::Env { env: 0, .. }), "{err:?}");
    assert_eq!(*env.outputs(), before);
    assert!((0..env.num_envs()).all(|e| env.env(e).clock().step() == 0));
}

/// A recurrent ONNX policy (`grudger_recurrent.onnx`: it sees only the partner's last move and
/// keeps whether the partner has defected in its `state`) is given each pass its `next_state`
/// of the pass before, zeros at each episode's start: against a random partner it cooperates
/// exactly until the partner's first defection of the episode, forgiving nothing after (which
/// its last-move view alone could not do), and starts every episode cooperating.
#[test]
fn a_recurrent_policy_reads_back_its_state_each_pass_and_starts_each_episode_at_zero() {
    use socium::core::NEXT_STATE;
    use socium::games::donor::repeated::obs;
    let s = scenario(
        "[scenario]\nname = \"grudge\"\nseed = 7\n[game.repeated]\nturns = 30\n\
         [[agents]]\npolicy = \"assets/policies/grudger_recurrent.onnx\"\n\
         [[agents]]\nstrategy = \"random\"\n",
    );
    let mut sim = s.sim().unwrap();
    let mut unforgiven = 0;
    for seed in 0..20 {
        sim.reset(Some(seed));
        let mut partner_defected = false;
        while !sim.env().is_done() {
            sim.step(&[0.0, 0.0]).unwrap();
            let row = &sim.env().observations()[..obs::DIM];
            let cooperated = row[obs::OWN_LAST] == 1.0;
            assert_eq!(cooperated, !partner_defected, "seed {seed}");
            // The state this move was made on: what the partner did before it.
            let state = sim.env().policy_extras().get(AgentId(0), NEXT_STATE);
            assert_eq!(state, Some(&[f32::from(u8::from(partner_defected))][..]));
            let partner_cooperated = row[obs::PARTNER_LAST] == 1.0;
            // Defecting after a partner's cooperation is the state's doing.
            unforgiven += usize::from(!cooperated && partner_cooperated);
            partner_defected |= !partner_cooperated;
        }
    }
    assert!(unforgiven > 20, "{unforgiven} grudges after a cooperation");
    // A VecEnv on 2 threads (2 blocks) gathers each env's own states: its envs act as their
    // Sims alone, over the first episode.
    let seeds = VecEnv::seeds(7, 8);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let batched = pool.install(|| trajectory(&s, &s.config, &seeds, 29));
    for (e, &seed) in seeds.iter().enumerate() {
        let config = SimConfig {
            seed,
            ..s.config.clone()
        };
        let mut sim = Sim::new(&*s.game, config).unwrap();
        sim.reset(None);
        for (t, out) in batched.iter().enumerate() {
            sim.step(&[0.0, 0.0]).unwrap();
            assert_eq!(
                sim.env().actions(),
                &out.actions[2 * e..2 * e + 2],
                "env {e}, step {t}"
            );
        }
    }
}
