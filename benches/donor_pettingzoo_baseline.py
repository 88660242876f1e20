"""The cultural donor game written as a plain PettingZoo ParallelEnv in Python: the baseline the
Socium VecEnv is measured against (benches/python_vs_socium.py).

Same rules as `scenarios/donor_learner.toml` (Vallinder & Hughes 2024): 12 agents, 12 rounds a
game, 2 games an episode with the halves reversed, 10 units each, gifts doubled, traces of depth 3;
agent 0 is the learner, agents 1–7 reciprocators (generosity 0.1, initial 0.6), 8–11 free riders.
Observations are the same 13 numbers per agent.
"""

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

N, ROUNDS, GAMES, DEPTH = 12, 12, 2, 3
OBS = 4 + 3 * DEPTH


class DonorGame(ParallelEnv):
    metadata = {"name": "donor_baseline_v0"}

    def __init__(self, seed: int = 0):
        self.possible_agents = [f"agent_{i}" for i in range(N)]
        self.rng = np.random.default_rng(seed)
        self._obs_space = spaces.Box(-1.0, np.inf, (OBS,), np.float32)
        self._act_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.step_index = 0
        self._start_game(0)
        return self._observe(), {a: {} for a in self.agents}

    def _start_game(self, game):
        self.resources = [10.0] * N
        self.history = [[None] * N for _ in range(ROUNDS)]
        if game % 2 == 0:
            order = self.rng.permutation(N)
            self.even_donor = [False] * N
            for i in order[: N // 2]:
                self.even_donor[i] = True
        else:
            self.even_donor = [not d for d in self.even_donor]

    def _pair(self, round_):
        donors = [a for a in range(N) if self.even_donor[a] == (round_ % 2 == 0)]
        recipients = [a for a in range(N) if self.even_donor[a] != (round_ % 2 == 0)]
        self.rng.shuffle(recipients)
        self.recipient = [None] * N
        for d, r in zip(donors, recipients):
            self.recipient[d] = r

    def _trace(self, recipient, round_):
        out, who = [], recipient
        for level in range(DEPTH):
            entry = None
            if who is not None and level < round_:
                entry = self.history[round_ - 1 - level][who]
            out.extend((entry[0], 0.0, 1.0) if entry else (0.0, 0.0, 0.0))
            who = entry[1] if entry else None
        return out

    def _observe(self):
        round_ = self.step_index % ROUNDS
        if round_ == 0 and self.step_index > 0:
            self._start_game(self.step_index // ROUNDS)
        self._pair(round_)
        self.obs = {}
        for a in range(N):
            r = self.recipient[a]
            row = [float(r is not None), self.resources[a], self.resources[r] if r is not None else 0.0, round_ / ROUNDS]
            row += self._trace(r, round_)
            self.obs[self.possible_agents[a]] = np.array(row, np.float32)
        return dict(self.obs)

    def _scripted(self, a):
        known = self.obs[self.possible_agents[a]]
        if a >= 8:
            return 0.0
        return min(max(float(known[4]), 0.0) + 0.1, 1.0) if known[6] > 0 else 0.6

    def step(self, actions):
        round_ = self.step_index % ROUNDS
        rewards = {a: 0.0 for a in self.agents}
        for d in range(N):
            r = self.recipient[d]
            if r is None:
                continue
            share = float(actions["agent_0"][0]) if d == 0 else self._scripted(d)
            x = share * self.resources[d]
            self.resources[d] -= x
            self.resources[r] += 2 * x
            self.history[round_][d] = (share, r)
            rewards[self.possible_agents[d]] -= x
            rewards[self.possible_agents[r]] += 2 * x
        self.step_index += 1
        done = self.step_index >= ROUNDS * GAMES
        terminations = {a: done for a in self.agents}
        truncations = {a: False for a in self.agents}
        infos = {a: {} for a in self.agents}
        observations = self._observe() if not done else dict(self.obs)
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos
