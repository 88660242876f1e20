"""What Socium costs per language-model request: `socium bench vecenv` over the donor game with
every donor on an `llm` controller, against a stdlib server that answers at once with a legal
answer (the request's schema's first choice), for 1, 16 and 64 acting LLM agents a step.

    python3 benches/llm_overhead.py [--steps 40] [--repeats 3]

For each size it prints env-steps/s, decisions/s, the requests the server answered per decision,
the server's own time per request (measured in its handler) and the rest of each request's wall
time: Socium's prompt, JSON schema, HTTP round trip and parsing. Envs in the same state share
one request (every env at its first step, say), so there may be fewer requests than decisions;
the wall time is per request. Sequential (`max_in_flight = 1`) then concurrent (64). Build first:
cargo build --release -p socium-cli.
"""

import argparse
import json
import subprocess
import tempfile
import threading
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOCIUM = ROOT / "target/release/socium"

handled = {"requests": 0, "seconds": 0.0}
lock = threading.Lock()
draw = random.Random(0)


class Instant(BaseHTTPRequestHandler):
    """Answers every chat completion at once with a legal answer drawn at random: the envs,
    which start in the same state, part at their first step, so that each decision after it is
    a request of its own (envs in the same state share one)."""

    protocol_version = "HTTP/1.1"
    # The reply goes out in two writes (head, body): with Nagle's algorithm the second waits for
    # the client's delayed ACK, 40 ms a request.
    disable_nagle_algorithm = True

    def do_POST(self):  # noqa: N802 (the http.server API)
        start = time.perf_counter()
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        properties = request["response_format"]["json_schema"]["schema"]["properties"]
        answer = {}
        with lock:
            for key, schema in properties.items():
                if "enum" in schema:
                    answer[key] = draw.choice(schema["enum"])
                else:
                    low, high = schema.get("minimum", 0), schema.get("maximum", 1)
                    answer[key] = draw.uniform(low, high)
        content = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": json.dumps(answer)}}]})
        body = content.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with lock:
            handled["requests"] += 1
            handled["seconds"] += time.perf_counter() - start

    def log_message(self, *args):
        pass


def scenario(url: str, agents: int, in_flight: int) -> str:
    return f"""[scenario]
name = "llm overhead"
[game.donor_cultural]
rounds = 1000
games = 1
[[agents]]
count = {agents}
controller = {{ llm = {{ base_url = "{url}", model = "instant", max_in_flight = {in_flight} }} }}
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    # A backlog for 64 connections at once (socketserver's default of 5 drops SYNs: 1 s resends).
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    print(f"{'acting LLM agents':>18} {'in flight':>9} {'steps/s':>9} {'decisions/s':>11} {'req/decision':>12} {'server ms/req':>14} {'rest ms/req':>12}")
    for acting, agents, envs in [(1, 2, 1), (16, 2, 16), (64, 8, 16)]:
        for in_flight in (1, 64):
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
                f.write(scenario(url, agents, in_flight))
            handled.update(requests=0, seconds=0.0)
            out = subprocess.run(
                [SOCIUM, "bench", "vecenv", f.name, "--envs", str(envs), "--steps", str(args.steps),
                 "--repeats", str(args.repeats), "--threads", "1", "--json"],
                check=True, capture_output=True, text=True,
            ).stdout
            report = json.loads(out)
            steps_per_s = args.steps / report["median_seconds"]
            per_s = report["decisions_per_second"]
            server_ms = 1000 * handled["seconds"] / max(handled["requests"], 1)
            # The warm-up (as many steps, up to 50, from the reset) and each repeat make about as
            # many decisions: the server's count over the run, per decision.
            runs = args.repeats + 1
            per_decision = handled["requests"] / (runs * report["decisions_per_repeat"])
            # Wall time per request, sequential equivalent: with n in flight, n requests share it.
            wall_ms = 1000 * min(in_flight, acting) / (per_s * per_decision)
            print(f"{acting:>18} {in_flight:>9} {steps_per_s:>9.1f} {per_s:>11.0f} {per_decision:>12.2f} {server_ms:>14.3f} {wall_ms - server_ms:>12.3f}")
    server.shutdown()


if __name__ == "__main__":
    main()
