"""A text rollout against a language-model server: a trainer's loop sends each prompt of
``socium.text_env`` to a (scripted, standard-library) chat-completions server and steps with its
answers; the rewards equal those of the same acts given as numbers to ``socium.parallel_env``."""

import json
import re
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import socium
from conftest import ROOT

LEARNER = ROOT / "scenarios/negotiation_learner.toml"


class FirstLegalAct(BaseHTTPRequestHandler):
    """A chat-completions server that answers with the first act the prompt lists as legal."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 (the http.server API)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = request["messages"][-1]["content"]
        listed = re.search(r"Your legal acts:\n(\d+):", prompt)
        answer = {"act": int(listed.group(1)) if listed else 0, "say": "ok"}
        message = {"role": "assistant", "content": json.dumps(answer)}
        body = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def ask(url: str, messages: list[dict]) -> str:
    body = json.dumps({"model": "scripted", "messages": messages}).encode()
    request = urllib.request.Request(url + "/chat/completions", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        return json.loads(reply.read())["choices"][0]["message"]["content"]


def test_a_rollout_answered_by_a_server_earns_the_rewards_of_the_same_acts_in_numbers():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstLegalAct)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        text = socium.text_env(LEARNER, seed=9)
        numbers = socium.parallel_env(LEARNER, seed=9)
        _, infos = text.reset(seed=9)
        obs, _ = numbers.reset(seed=9)
        spoken = 0
        while text.agents:
            answers = {a: ask(url, infos[a]["messages"]) for a in text.agents}
            acts = {a: json.loads(answers[a])["act"] for a in answers}
            for a, o in obs.items():
                legal = [i for i, m in enumerate(o["action_mask"]) if m]
                assert acts[a] == (legal[0] if legal else 0)
            _, r1, term1, trunc1, infos = text.step(answers)
            obs, r2, term2, trunc2, info2 = numbers.step({a: (acts[a], "ok") for a in acts})
            assert r1 == r2 and term1 == term2 and trunc1 == trunc2
            for a in r1:
                assert infos[a]["answer_error"] is None
                assert infos[a]["reward_components"] == info2[a]["reward_components"]
            spoken += sum(1 for u in text.utterances() if u.get("speaker") == 0)
        assert spoken > 0
    finally:
        server.shutdown()


class RefusingWhileAsked(FirstLegalAct):
    """FirstLegalAct, but HTTP 404 (a refusal, which fails the step) while ``refuse`` is set."""

    refuse = False
    asked = 0

    def do_POST(self):  # noqa: N802 (the http.server API)
        type(self).asked += 1
        if not type(self).refuse:
            return super().do_POST()
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"error": {"message": "no such model"}}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_a_text_sent_with_a_step_a_policy_refused_is_not_said_later(tmp_path):
    # Two negotiations at once: the learner's and a language model's. A step the model's server
    # refuses moves nothing, and the words the learner sent with it go with it: its next answer,
    # which says nothing, is said without them.
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingWhileAsked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    scenario = tmp_path / "two_tables.toml"
    scenario.write_text(
        '[scenario]\nname = "two tables"\n[game.negotiation]\nfree_text = 280\n'
        '[[agents]]\ncontroller = "external"\nlabel = "learner"\n'
        f'[[agents]]\ncontroller = {{ llm = {{ base_url = "{url}", model = "m", retries = 0 }} }}\n'
        '[[agents]]\nstrategy = "fair"\ncount = 2\n'
    )
    try:
        env = socium.text_env(scenario)
        numbers = socium.parallel_env(scenario)
        for seed in range(200):
            env.reset(seed=seed)
            obs, _ = numbers.reset(seed=seed)
            mask = obs["agent_0"]["action_mask"]
            if not mask.any():
                continue  # the learner does not speak first
            act = int(np.flatnonzero(mask)[0])
            RefusingWhileAsked.refuse, RefusingWhileAsked.asked = True, 0
            try:
                env.step({"agent_0": json.dumps({"act": act, "say": "hello from a refused step"})})
            except Exception as e:
                assert "404" in str(e), e
                break
            finally:
                RefusingWhileAsked.refuse = False
            assert RefusingWhileAsked.asked == 0, "a refused request fails the step"
        else:
            pytest.fail("no seed where the learner and the model both speak first")
        env.step({"agent_0": json.dumps({"act": act})})
        said = [u.get("text", "") for u in env.utterances() if u.get("speaker") == 0]
        assert said and all("refused step" not in t for t in said), said
    finally:
        server.shutdown()
