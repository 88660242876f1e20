//! Prompts: every bundled scenario (`scenarios/*.toml`), played for some steps, gives every
//! acting agent at every step a prompt ([`Rules::prompt`](socium::core::Rules::prompt)) whose
//! acts are exactly the legal choices of the action's first discrete part, each in words, with
//! rules and a situation in words: every registered game describes itself.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use socium::core::AgentId;
use socium::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Steps played of each scenario (resetting when an episode ends).
const STEPS: usize = 60;

/// Every bundled scenario file, but those with language-model agents (`*_llm.toml`), which need
/// a server (tests/llm_model.rs plays one).
fn bundled() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| !p.to_string_lossy().ends_with("_llm.toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_acting_agent_of_every_bundled_scenario_gets_its_legal_acts_in_words() {
    for file in bundled() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let game = &*scenario.game;
        let mut sim = scenario.sim().unwrap();
        let n = sim.agent_count();
        let space = sim.spaces().action.clone();
        let (per_agent, mask_dim) = (space.flat_dim(), space.mask_dim());
        let obs_dim = sim.spaces().observation.flat_dim();
        let first = space.first_discrete().map_or(0, |k| k as usize);
        let external = sim.external_agents().to_vec();
        // External agents act legally: a mafia member may not skip the night, and a belief is a
        // distribution (zeros are not).
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut actions = vec![0.0f32; n * per_agent];
        let mut prompts = 0;
        for step in 0..STEPS {
            if sim.env().is_done() {
                sim.reset(None);
            }
            let env = sim.env();
            let (obs, masks, acting) = (env.observations(), env.action_masks(), env.acting());
            for a in (0..n).filter(|&a| acting[a]) {
                let agent = AgentId(a as u32);
                let row = &obs[a * obs_dim..(a + 1) * obs_dim];
                let mask = &masks[a * mask_dim..(a + 1) * mask_dim];
                let p = game.prompt(n, agent, row, mask);
                let at = format!("{name}, step {step}, {agent}");
                let legal: Vec<usize> = (0..first).filter(|&i| mask[i] != 0).collect();
                let offered: Vec<usize> = p.acts.iter().map(|&(i, _)| i).collect();
                assert_eq!(offered, legal, "{at}: acts offered and legal");
                for (i, said) in &p.acts {
                    assert!(!said.trim().is_empty(), "{at}: act {i} has no words");
                }
                assert!(!p.rules.trim().is_empty(), "{at}: no rules");
                assert!(!p.situation.trim().is_empty(), "{at}: no situation");
                assert!(
                    !p.situation.starts_with("Your observation:"),
                    "{at}: the observation's numbers, not words"
                );
                prompts += 1;
            }
            for a in &external {
                if acting[a.index()] {
                    let mask = &masks[a.index() * mask_dim..(a.index() + 1) * mask_dim];
                    let out = &mut actions[a.index() * per_agent..(a.index() + 1) * per_agent];
                    space.sample(&mut rng, mask, out);
                }
            }
            sim.step(&actions).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(prompts > 0, "{name}: nobody acted in {STEPS} steps");
    }
}

/// The repeated game all at once, with matches ending at random: an agent's prompt names each
/// other player's match in id order and says "the match is over" exactly where its mask forbids
/// cooperating (the game's own mask, not one written here).
#[test]
fn an_at_once_prompt_says_which_matches_are_over_as_the_mask_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set: Vec<socium::scenario::Override> = [
        "game.repeated.matches=\"at_once\"",
        "game.repeated.continuation=0.7",
    ]
    .iter()
    .map(|o| o.parse().unwrap())
    .collect();
    let s =
        Scenario::load_with_overrides(&root.join("scenarios/ipd_tournament.toml"), &set).unwrap();
    let mut sim = s.sim().unwrap();
    let n = sim.agent_count();
    let (obs_dim, mask_dim) = (
        sim.spaces().observation.flat_dim(),
        sim.spaces().action.mask_dim(),
    );
    let mut over_seen = 0;
    for _ in 0..6 {
        let env = sim.env();
        for a in (0..n).filter(|&a| env.acting()[a]) {
            let row = &env.observations()[a * obs_dim..(a + 1) * obs_dim];
            let mask = &env.action_masks()[a * mask_dim..(a + 1) * mask_dim];
            let p = s.game.prompt(n, AgentId(a as u32), row, mask);
            let lines: Vec<&str> = p.situation.lines().collect();
            assert_eq!(lines.len(), n - 1);
            for (k, line) in lines.iter().enumerate() {
                let partner = k + usize::from(k >= a);
                assert!(line.starts_with(&format!("Player {partner}: ")), "{line}");
                let over = mask[2 * k + 1] == 0;
                assert_eq!(
                    line.ends_with("the match is over."),
                    over,
                    "agent {a}: {line}"
                );
                over_seen += usize::from(over);
            }
        }
        // Everyone cooperates in every open match.
        let actions: Vec<f32> = (sim.env().action_masks().chunks(2))
            .map(|m| f32::from(m[1]))
            .collect();
        sim.step(&actions).unwrap();
    }
    assert!(over_seen > 0, "no match ended in 6 turns");
}

/// The norms game's prompt from a real first step: every agent starts Good under the bundled
/// scenario's public assessment and donates in round 1.
#[test]
fn a_norms_prompt_reads_the_games_own_first_observation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Scenario::load(&root.join("scenarios/leading_eight.toml")).unwrap();
    let sim = s.sim().unwrap();
    let (n, obs_dim) = (sim.agent_count(), sim.spaces().observation.flat_dim());
    let mask_dim = sim.spaces().action.mask_dim();
    for a in 0..n {
        let row = &sim.env().observations()[a * obs_dim..(a + 1) * obs_dim];
        let mask = &sim.env().action_masks()[a * mask_dim..(a + 1) * mask_dim];
        let p = s.game.prompt(n, AgentId(a as u32), row, mask);
        let said = &p.situation;
        assert!(said.starts_with("Round 1 of "), "{said}");
        assert!(
            said.ends_with(": you donate to an agent who is Good. You are Good."),
            "{said}"
        );
    }
}
