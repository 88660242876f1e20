"""The vector env: read-only numpy arrays over the envs' own buffers, written in place,
Gymnasium's NEXT_STEP autoreset, and the same values as a per-env loop of PettingZoo envs."""

import gc
import pickle
import tracemalloc

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, VectorEnv

import socium
from conftest import ROOT

DONOR = ROOT / "scenarios/donor_learner.toml"


def test_same_arrays_every_call_and_no_allocation():
    env = socium.VecEnv(DONOR, 8, seed=1)
    assert isinstance(env, VectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, infos = env.reset()
    assert obs.shape == (8, 12, env.agent_observation_space.shape[0]) and obs.dtype == np.float32
    assert env.single_observation_space.contains(obs[0])
    actions = np.zeros((8, 12, 1), np.float32)
    first = env.step(actions)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100):
        step = env.step(actions)
        assert all(a is b for a, b in zip(step[:4], first[:4]))
        assert all(step[4][k] is v for k, v in first[4].items())
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 4096, f"{grown} bytes kept over 100 steps"


def test_the_arrays_are_read_only_views_that_keep_the_envs_alive():
    env = socium.VecEnv(DONOR, 4, seed=1)
    obs, infos = env.reset()
    arrays = [obs, infos["action_mask"], infos["acting"], infos["reward_components"], env.actions_taken()]
    actions = np.full((4, 12, 1), 0.5, np.float32)
    _, rewards, terminated, truncated, _ = env.step(actions)
    arrays += [rewards, terminated, truncated]
    for a in arrays:
        assert not a.flags.writeable and not a.flags.owndata
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0
        # Without OWNDATA numpy refuses to make an array writeable again.
        with pytest.raises(ValueError):
            a.flags.writeable = True
    # The learner's action as sent, in place in the array taken before the step.
    assert np.all(arrays[4][:, 0, 0] == 0.5)
    seen = obs.copy()
    for _ in range(3):
        env.step(actions)
    assert not np.array_equal(obs, seen), "a step rewrites the observations in place"
    # The arrays hold the envs: with the VecEnv gone, they still read its last rows.
    last = obs.copy()
    del env, infos
    gc.collect()
    assert np.array_equal(obs, last)


def test_a_step_reads_its_own_arrays_as_actions_through_a_copy():
    """``actions_taken()`` passed back lies in the memory the step writes: the step reads a copy,
    and plays as it would from any other array of the same values."""
    mine, other = socium.VecEnv(DONOR, 4, seed=3), socium.VecEnv(DONOR, 4, seed=3)
    mine.reset()
    other.reset()
    rng = np.random.default_rng(3)
    for t in range(40):
        actions = rng.random((4, 12, 1), dtype=np.float32)
        if t % 2:
            actions = mine.actions_taken()
        given = actions.copy()
        ours, theirs = mine.step(actions), other.step(given)
        for a, b in zip(ours[:4], theirs[:4]):
            np.testing.assert_array_equal(a, b, err_msg=f"step {t}")
        np.testing.assert_array_equal(mine.actions_taken(), other.actions_taken())


def test_matches_a_per_env_loop():
    n, steps, rng = 4, 60, np.random.default_rng(0)
    vec = socium.VecEnv(DONOR, n, seed=9)
    seeds = socium.env_seeds(9, n)
    loop = [socium.parallel_env(DONOR, seed=s) for s in seeds]
    obs, _ = vec.reset()
    per_env = [env.reset()[0] for env in loop]
    learner = vec.external_agents[0]
    for t in range(steps):
        for e, env in enumerate(loop):
            np.testing.assert_array_equal(obs[e, learner], per_env[e]["agent_0"], err_msg=f"step {t} env {e}")
        actions = np.zeros((n, 12, 1), np.float32)
        actions[:, learner, 0] = rng.random(n)
        obs, rewards, terminated, _, _ = vec.step(actions)
        for e, env in enumerate(loop):
            if not env.agents:  # NEXT_STEP: the vector env reset this env and ignored the action
                per_env[e], _ = env.reset()
                assert rewards[e, learner] == 0.0
                continue
            per_env[e], r, term, _, _ = env.step({"agent_0": actions[e, learner]})
            assert r["agent_0"] == rewards[e, learner]
            assert term["agent_0"] == terminated[e, learner]


def test_without_records_the_arrays_are_the_same_and_utterances_are_refused():
    n, rng = 4, np.random.default_rng(3)
    kept, unkept = socium.VecEnv(DONOR, n, seed=5), socium.VecEnv(DONOR, n, seed=5, records=False)
    assert (kept.records, unkept.records) == (True, False)
    arrays = [kept.reset(), unkept.reset()]
    for t in range(80):
        actions = rng.random((n, 12, 1), dtype=np.float32)
        arrays = [kept.step(actions), unkept.step(actions)]
        (obs, rewards, term, trunc, infos), (obs2, rewards2, term2, trunc2, infos2) = arrays
        for x, y in [(obs, obs2), (rewards, rewards2), (term, term2), (trunc, trunc2)]:
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}")
        for k in infos:
            np.testing.assert_array_equal(infos[k], infos2[k], err_msg=f"step {t}: {k}")
        np.testing.assert_array_equal(kept.raw_rewards(), unkept.raw_rewards(), err_msg=f"step {t}")
    assert any(line.get("rewards") for line in kept.utterances(0))
    with pytest.raises(RuntimeError, match="records=True"):
        unkept.utterances(0)
    rebuilt = pickle.loads(pickle.dumps(unkept))
    assert rebuilt.records is False


def test_integer_actions_of_one_entry_equal_float_actions():
    ints, floats = (socium.VecEnv(ROOT / "scenarios/ipd_learner.toml", 3, seed=2) for _ in range(2))
    ints.reset()
    floats.reset()
    rng = np.random.default_rng(1)
    for _ in range(20):
        moves = rng.integers(0, 2, (3, 8))
        a = ints.step(moves)
        b = floats.step(moves[..., None].astype(np.float32))
        for x, y in zip(a[:4], b[:4]):
            np.testing.assert_array_equal(x, y)


def test_seed_lists_and_bad_sizes():
    env = socium.VecEnv(DONOR, 2, seed=1)
    obs_a = env.reset(seed=[5, 6])[0].copy()
    other = socium.VecEnv(DONOR, 2, seeds=[5, 6])
    np.testing.assert_array_equal(obs_a, other.reset()[0])
    for bad in (lambda: socium.VecEnv(DONOR, 0), lambda: env.reset(seed=[1]), lambda: env.reset(seed=-1)):
        try:
            bad()
        except ValueError:
            pass
        else:
            raise AssertionError("accepted")


def test_a_seed_list_with_a_gap_is_refused_before_anything_starts():
    env = socium.VecEnv(DONOR, 3, seed=0)
    with pytest.raises(ValueError, match=r"seed\[0\] is None: give every env a seed"):
        env.reset(seed=[None, 2, 3])
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros((3, 12, 1), np.float32))
    # The first reset still uses the VecEnv's own seeds.
    np.testing.assert_array_equal(env.reset()[0], socium.VecEnv(DONOR, 3, seed=0).reset()[0])
    # The constructor's list says the same (numpy's TypeError had come from the engine).
    with pytest.raises(ValueError, match=r"seeds\[1\] is None: give every env a seed"):
        socium.VecEnv(DONOR, 2, seeds=[1, None])


def test_reset_options_are_refused_not_ignored():
    # Gymnasium's vector envs read `reset_mask` to reset some envs only; this one resets every
    # env, so it says so rather than reset the envs the mask spares.
    env = socium.VecEnv(DONOR, 2, seed=0)
    with pytest.raises(ValueError, match=r"options \['reset_mask'\]: a VecEnv resets every env"):
        env.reset(options={"reset_mask": np.array([True, False])})
    env.reset(options={})


def test_misaligned_actions_are_copied_render_gives_none_and_a_closed_env_says_so():
    env, other = socium.VecEnv(DONOR, 3, seed=4), socium.VecEnv(DONOR, 3, seed=4)
    env.reset()
    other.reset()
    values = np.random.default_rng(4).random((3, 12, 1), dtype=np.float32)
    misaligned = np.frombuffer(bytearray(values.nbytes + 1), np.float32, offset=1).reshape(values.shape)
    misaligned[...] = values
    assert not misaligned.flags.aligned
    for a, b in zip(env.step(misaligned)[:4], other.step(values)[:4]):
        np.testing.assert_array_equal(a, b)
    assert env.render_mode is None and env.render() is None  # Gymnasium's base raises
    env.close()
    assert env.closed


def test_a_string_override_beyond_the_basic_plane_arrives_as_given():
    env = socium.VecEnv(DONOR, 1, overrides={"agents[0].label": "learner \U0001F600 \"quoted\"\n"})
    assert env.agent_labels[0] == "learner \U0001F600 \"quoted\"\n"


def test_a_scenario_with_a_timeline_is_refused_at_its_first_change():
    # `[[timeline]]` changes a run at run-wide episodes; a trainer's envs reset on their own.
    with pytest.raises(socium.ScenarioError, match=r"intervention.toml:\d+:1: `timeline`: a change at episode 10"):
        socium.VecEnv(ROOT / "scenarios/intervention.toml", 2)


def test_values_are_read_from_both_envs_where_the_scenario_has_them():
    # `[values]` added by overrides to the donor learner scenario: every agent holds a value in
    # [0, 1]; the vector env reads them all, the PettingZoo env gives each agent's in its infos;
    # without `[values]` there are none.
    scenario = ROOT / "scenarios/donor_learner.toml"
    overrides = {"values.confidence": 1.0, "values.rate": 0.25}
    vec = socium.VecEnv(scenario, 2, seeds=[3, 4], overrides=overrides)
    vec.reset()
    start = vec.values()
    assert start.shape == (2, len(vec.agent_labels)) and ((0 <= start) & (start <= 1)).all()
    for _ in range(4):
        vec.step(np.zeros(vec.action_space.shape, np.float32))
    assert not np.array_equal(vec.values(), start), "donations pulled values together"
    assert socium.VecEnv(scenario, 1).values() is None
    env = socium.parallel_env(scenario, seed=3, **overrides)
    env.reset()
    _, _, _, _, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert infos
    for agent, info in infos.items():
        assert 0.0 <= info["value"] <= 1.0, agent


def _returns_after_30_steps(envs: int = 64) -> list[float]:
    env = socium.VecEnv(ROOT / "scenarios/donor_learner.toml", envs, seed=1)
    actions = np.full((envs, 12, 1), 0.5, np.float32)
    env.reset()
    rewards = []
    for _ in range(30):
        rewards.append(float(env.step(actions)[1].sum()))
    return rewards


def test_envs_step_alike_from_the_main_thread_another_thread_and_a_forked_process():
    # The thread that builds the first env becomes one of rayon's workers (socium-py's
    # `join_pool`): a VecEnv stepped from any other thread, or in a process forked after that,
    # must still step (not hang) and give the same rewards.
    import multiprocessing
    import threading

    here = _returns_after_30_steps()
    elsewhere: list[list[float]] = []
    thread = threading.Thread(target=lambda: elsewhere.append(_returns_after_30_steps()))
    thread.start()
    thread.join(timeout=60)
    assert elsewhere == [here]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_returns_after_30_steps).get(timeout=60) == here


def test_utterances_name_the_faults_of_models_that_could_not_answer():
    # A server that fails every request (HTTP 500): each model that acts faults and plays the
    # game's default act, and the step goes on.
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    llm = {"llm": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "retries": 0}}
    env = socium.VecEnv(ROOT / "scenarios/donor_llm.toml", 2, seed=1, overrides={"agents[0].controller": llm})
    models = [a for a, label in enumerate(env.agent_labels) if label == "smollm2"]
    assert models == [0, 1]
    _, infos = env.reset()
    faulted = 0
    for _ in range(4):
        acting = infos["acting"].copy()
        _, _, _, _, infos = env.step(np.zeros((2, 4, 1), np.float32))
        for e in range(2):
            lines = env.utterances(e)
            faults = [line for line in lines if "fault" in line]
            assert lines[: len(faults)] == faults, "faults come first, as in transcript.jsonl"
            assert [f["agent"] for f in faults] == [a for a in models if acting[e, a]]
            assert all(f["fault"].startswith("no usable answer in 1 attempt; the last: ") for f in faults)
            # Each faulted model still played: its default act is among the step's acts.
            speakers = {line["speaker"] for line in lines if "speaker" in line}
            assert {f["agent"] for f in faults} <= speakers
            faulted += len(faults)
    assert faulted > 0
    with pytest.raises(IndexError):
        env.utterances(2)
    server.shutdown()
