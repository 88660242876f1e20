"""The PettingZoo Parallel API, as PettingZoo's own checkers test it, on every bundled scenario
that has agents a trainer can control: for every game of the registry (`socium.games()`), its
learner scenarios."""

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import socium
from conftest import ROOT, TRAINABLE, game_of, learner_scenarios


@pytest.mark.parametrize("game", socium.games())
def test_parallel_api_on_every_games_learner_scenarios(game):
    scenarios = learner_scenarios(game)
    assert scenarios, f"game `{game}` has no scenario with an external agent (scenarios/{game}_learner.toml)"
    for scenario in scenarios:
        parallel_api_test(socium.parallel_env(scenario), num_cycles=1000)


def test_parallel_api_under_the_original_among_us_rules():
    # The original's pace (busy players skip steps), meetings and time limit, and its
    # training preset's grid drawn per episode, with a trainer's player among scripted ones.
    for rules in ["sarkar_eval", "sarkar_train"]:
        env = socium.parallel_env(ROOT / "scenarios/among_us_learner.toml", **{"game.among_us.rules": rules})
        parallel_api_test(env, num_cycles=1000)


def test_parallel_api_under_each_negotiation_protocol_and_the_bidding_debate():
    # Who acts changes with the protocol: both sides at once when they select (Deal or No Deal),
    # offers and answers only (Rubinstein), every living player but the last speaker at a bid.
    for key, value in [
        ("game.negotiation.agreement", "selection"),
        ("game.negotiation.agreement", "alternating"),
    ]:
        env = socium.parallel_env(ROOT / "scenarios/negotiation_learner.toml", **{key: value})
        parallel_api_test(env, num_cycles=1000)
    env = socium.parallel_env(
        ROOT / "scenarios/mafia_learner.toml",
        **{"game.mafia.speaking": "bidding", "game.mafia.discussion": 8},
    )
    parallel_api_test(env, num_cycles=1000)


def test_a_scenario_without_external_agents_is_refused_with_what_to_do():
    path = ROOT / "scenarios/donor_cultural_evolution.toml"  # every agent scripted
    with pytest.raises(socium.NoExternalAgentsError) as refused:
        socium.parallel_env(path)
    error = refused.value
    assert isinstance(error, socium.ScenarioError) and isinstance(error, ValueError)
    message = str(error)
    assert message.startswith(f"{path}: no external agents: ")
    assert "nothing for a trainer to step" in message
    assert 'controller = "external"' in message and "[[agents]]" in message
    assert "docs/scenarios.md" in message
    with pytest.raises(socium.NoExternalAgentsError):
        socium.ParallelEnv(path, seed=1, render_mode="ansi")
    # The vector env steps every agent, so it takes such scenarios.
    vec = socium.VecEnv(path, 1)
    assert vec.external_agents == []
    vec.reset()
    vec.step(np.zeros(vec.action_space.shape, np.float32))


def test_every_trainable_scenario_plays_a_registered_game():
    # So the test above checks every trainable scenario.
    assert TRAINABLE and {game_of(p) for p in TRAINABLE} <= set(socium.games())


def forbids_acts(scenario, steps=200) -> bool:
    """Whether the scenario's masks ever forbid an act to an agent whose turn it is."""
    env = socium.parallel_env(scenario, seed=0)
    obs, _ = env.reset(seed=0)
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        if not all(isinstance(obs[a], dict) for a in env.agents):
            return False  # no masks at all
        # An idle agent's mask forbids everything; an acting one's allows something.
        masks = [obs[a]["action_mask"] for a in env.agents]
        if any(m.any() and not m.all() for m in masks):
            return True
        actions = {a: env.action_space(a).sample(obs[a]["action_mask"]) for a in env.agents}
        obs = env.step(actions)[0]
    return False


def masked_seed_test(make_env, cycles=300):
    """PettingZoo's parallel_seed_test, sampling each action with its mask: two envs reset with
    one seed and driven by identically seeded action spaces stay identical."""
    env1, env2 = make_env(), make_env()
    obs1, _ = env1.reset(seed=42)
    obs2, _ = env2.reset(seed=42)
    for env in (env1, env2):
        env.action_space(env.possible_agents[0]).seed(7)  # one space object serves every agent
    for _ in range(cycles):
        if not env1.agents:
            assert not env2.agents
            obs1, _ = env1.reset()
            obs2, _ = env2.reset()
        # An idle agent's mask forbids everything: its sample takes choice 0, which is ignored.
        a1 = {a: env1.action_space(a).sample(obs1[a]["action_mask"]) for a in env1.agents}
        a2 = {a: env2.action_space(a).sample(obs2[a]["action_mask"]) for a in env2.agents}
        assert str(a1) == str(a2)
        out1, out2 = env1.step(a1), env2.step(a2)
        for x, y in zip(out1, out2):
            assert str(x) == str(y)
        obs1, obs2 = out1[0], out2[0]


def test_parallel_seed(scenario):
    # PettingZoo's seed test samples actions without their masks; where masks forbid acts to the
    # agent whose turn it is (Mafia: no vote for oneself), a masked act is refused by design
    # (MaskedActionError), so the same check runs with masked sampling instead.
    if forbids_acts(scenario):
        masked_seed_test(lambda: socium.parallel_env(scenario))
    else:
        parallel_seed_test(lambda: socium.parallel_env(scenario))


def test_masked_seed_test_covers_the_masked_scenarios():
    assert forbids_acts(ROOT / "scenarios/mafia_learner.toml")
    assert not forbids_acts(ROOT / "scenarios/ipd_learner.toml")


def test_spaces_infos_render_state():
    env = socium.ParallelEnv(ROOT / "scenarios/ipd_learner.toml", seed=2, render_mode="ansi")
    assert socium.ParallelEnv(ROOT / "scenarios/ipd_learner.toml").render() is None
    obs, _ = env.reset(seed=2)
    agent = env.agents[0]
    assert env.observation_space(agent) is env.observation_space(agent)
    assert env.action_space(agent) is env.action_space(agent)
    assert set(obs[agent]) == {"observation", "action_mask"}
    _, rewards, _, _, infos = env.step({a: 1 for a in env.agents})
    assert infos[agent]["reward_components"] == {"payoff": rewards[agent]}
    assert infos[agent]["acting"] is True
    acts = env.utterances()
    assert len(acts) == 8  # every agent moves once in its match
    assert all(entry["rewards"][0]["agent"] == entry["speaker"] for entry in acts)
    text = env.render()
    assert "agent 0 cooperates with agent" in text and text.count("\n") == 7
    assert env.state().shape == env.state_space.shape


def test_acting_says_whose_action_counted_at_the_step_just_played():
    # In the donor game the learner's action counts only in the rounds it donates: at such a
    # step, and only then, another share changes its reward.
    scenario = ROOT / "scenarios/donor_learner.toml"
    history, counted = [], []
    for t in range(24):
        rewards = []
        for share in (0.9, 0.1):
            env = socium.parallel_env(scenario, seed=3)
            env.reset(seed=3)
            for past in history:
                env.step({"agent_0": np.array([past], np.float32)})
            _, reward, _, _, infos = env.step({"agent_0": np.array([share], np.float32)})
            rewards.append(reward["agent_0"])
        counted.append(infos["agent_0"]["acting"])
        assert (rewards[0] != rewards[1]) == counted[-1], f"step {t}"
        history.append(0.9)
    assert any(counted) and not all(counted)


def test_overrides_are_checked_like_the_file():
    env = socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", turns=3, noise=0.0)
    env.reset(seed=1)
    for _ in range(3):
        _, _, terminations, _, _ = env.step({a: 1 for a in env.agents})
    assert all(terminations.values()) and env.agents == []
    try:
        socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", noise=2)
    except socium.ScenarioError as e:
        assert "`game.repeated.noise`: expected a probability in [0, 1], found 2" in str(e)
    else:
        raise AssertionError("noise=2 accepted")


def test_graph_and_numpy_overrides():
    import pickle

    env = socium.ParallelEnv(
        ROOT / "scenarios/donor_learner.toml",
        render_mode="ansi",
        multiplier=np.float64(3.0),
        rounds=np.int64(4),
        graph={"watts_strogatz": {"k": 4, "p": 0.1}},
    )
    copy = pickle.loads(pickle.dumps(env))
    assert copy.render_mode == "ansi" and copy.overrides == env.overrides
    copy.reset(seed=1)
    steps = 0
    while copy.agents:
        copy.step({"agent_0": np.array([0.5], np.float32)})
        steps += 1
    assert steps == 8  # 4 rounds x 2 games
    try:
        socium.parallel_env(ROOT / "scenarios/donor_learner.toml", graph="watts_strogatz")
    except socium.ScenarioError as e:
        assert "graph" in str(e)
    else:
        raise AssertionError("a generator without its parameters was accepted")


def test_masks_follow_whose_turn_it_is():
    env = socium.parallel_env(ROOT / "scenarios/donor_learner.toml", punishment=True, seed=4)
    obs, _ = env.reset()
    agent = env.agents[0]
    mask = obs[agent]["action_mask"]
    assert mask.dtype == np.int8 and mask.shape == (2,)
    # The learner donates in one round of two: a donor's mask allows give and punish, a
    # recipient's forbids both.
    masks = []
    for _ in range(4):
        masks.append(obs[agent]["action_mask"].tolist())
        obs, *_ = env.step({agent: (0, np.array([0.5], np.float32))})
    assert sorted(masks) == [[0, 0], [0, 0], [1, 1], [1, 1]]


def test_among_us_actions_state_a_belief():
    # The Among Us-style game's action is an act and a belief over who the imposter is; the
    # belief stated is the one the game holds (the observation's last 5 entries show it), and the
    # listening rewards it earns settle at the step after each message, naming the message.
    env = socium.parallel_env(ROOT / "scenarios/among_us_learner.toml", seed=1)
    assert str(env.action_space("agent_0")) == "Tuple(Discrete(59), Simplex(5))"
    stated = np.array([0.1, 0.15, 0.2, 0.25, 0.3], np.float32)
    obs, _ = env.reset(seed=1)
    settled = 0
    for _ in range(400):
        if not env.agents:
            obs, _ = env.reset()
        act = env.action_space("agent_0")[0].sample(obs["agent_0"]["action_mask"])
        obs, _, _, _, infos = env.step({"agent_0": (act, stated)})
        if infos["agent_0"]["acting"]:
            np.testing.assert_allclose(obs["agent_0"]["observation"][-5:], stated, atol=1e-6)
        imposter = int(np.argmax(env.state().reshape(5, -1)[:, 0]))
        for entry in env.utterances():
            for r in entry["rewards"]:
                if r["dimension"] == "listening" and r["agent"] == 0:
                    assert "settles" in entry
                    assert abs(r["value"] - np.log(stated[imposter])) < 1e-6
                    settled += 1
    assert settled > 5


def test_among_us_free_text():
    # With `free_text`, the action ends in a Text part: the speaker may say it (act `say`), and
    # it is kept verbatim; PettingZoo's checker samples text too.
    scenario = ROOT / "scenarios/among_us_learner.toml"
    env = socium.parallel_env(scenario, seed=2, free_text=30, render_mode="ansi")
    space = env.action_space("agent_0")
    assert str(space) == "Tuple(Discrete(59), Simplex(5), FreeText(30))"
    assert space.contains((0, np.full(5, 0.2, np.float32), "it's agent 3, I saw it — ok?"))
    parallel_api_test(env, num_cycles=300)
    obs, _ = env.reset(seed=2)
    uniform = np.full(5, 0.2, np.float32)
    with pytest.raises(socium.ActionTextError, match="agent_0: free text of 31 characters, expected at most 30"):
        env.step({"agent_0": (0, uniform, "x" * 31)})
    say = 7 + 3 * 5 + 6 + 5 * 6  # acts::say(5, 6)
    said = []
    for _ in range(2000):
        if not env.agents:
            obs, _ = env.reset()
        act = say if obs["agent_0"]["action_mask"][say] else 0
        obs, *_ = env.step({"agent_0": (act, uniform, "it was agent 3, I saw it")})
        said += [e["text"] for e in env.utterances() if e.get("act", {}).get("kind") == "say"]
        if said:
            break
    assert said == ['agent 0: "it was agent 3, I saw it"']
    assert 'agent 0: "it was agent 3, I saw it"' in env.render()
    # Without rendering, free text is still kept: it is the message itself.
    quiet = socium.parallel_env(scenario, seed=2, free_text=30)
    obs, _ = quiet.reset(seed=2)
    said = []
    for _ in range(2000):
        if not quiet.agents:
            obs, _ = quiet.reset()
        act = say if obs["agent_0"]["action_mask"][say] else 0
        obs, *_ = quiet.step({"agent_0": (act, uniform, "hello")})
        said = [e["text"] for e in quiet.utterances() if e.get("act", {}).get("kind") == "say"]
        if said:
            break
    assert said == ['agent 0: "hello"']


def test_ipd_matches_at_once():
    # With `matches="at_once"` each learner plays all seven others at every step: a move per
    # partner (MultiDiscrete) and an observation block of 7 per partner.
    env = socium.parallel_env(ROOT / "scenarios/ipd_learner.toml", seed=4, matches="at_once")
    learner = env.possible_agents[0]
    assert str(env.action_space(learner)) == "MultiDiscrete([2 2 2 2 2 2 2])"
    assert env.observation_space(learner)["observation"].shape == (7 * 7,)
    parallel_api_test(env, num_cycles=300)


def test_a_learner_that_dies_stays_until_the_end_and_gets_its_sides_result():
    # A dead player is idle (not acting) but not done until the game ends, where its side's
    # `win` is paid to it too: PettingZoo drops a terminated agent at once, so a learner killed
    # part-way had never seen its side win or lose. The same actions through the VecEnv, which
    # pays every step's rewards, end on the same step and return the same to the learner.
    scenario = ROOT / "scenarios/mafia_learner.toml"
    env, vec = socium.parallel_env(scenario), socium.VecEnv(scenario, 1)
    space = env.action_space("agent_0")
    died_early = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        vec.reset(seed=[seed])
        space.seed(seed)
        returns, died = [0.0, 0.0], False
        while env.agents:
            act, belief = space.sample(obs["agent_0"]["action_mask"])
            obs, rewards, *_ = env.step({"agent_0": (act, belief)})
            row = np.zeros_like(vec._core.actions)
            row[0, 0, 0], row[0, 0, 1:] = act, belief
            _, vec_rewards, terminated, truncated, _ = vec.step(row)
            returns[0] += rewards["agent_0"]
            returns[1] += float(vec_rewards[0, 0])
            ended = bool(terminated[0].all() or truncated[0].all())
            assert (not env.agents) == ended, f"seed {seed}: the learner leaves at the end"
            # Steps the learner spent dead in a game that went on.
            died_early += died and not ended
            died |= any(u["speaker"] == 0 and u["act"]["kind"] in ("lynched", "killed") for u in env.utterances())
        assert returns[0] == pytest.approx(returns[1], abs=1e-6), f"seed {seed}"
    assert died_early >= 3, f"the learner spent only {died_early} steps dead before an end"
