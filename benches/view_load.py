"""How long `socium view`'s page of a 100,000-utterance episode takes to open in headless Chromium,
and how long the list takes to draw a scrolled-to screen.

    .venv/bin/python benches/view_load.py [--socium target/release/socium] [--repeats 5]

It plays one episode of scenarios/image_scoring.toml with 1,000 rounds (100 agents, a donation
each a round: 100,000 utterances), writes its page with `socium view`, and opens it from disk
`--repeats` times in a fresh headless Chromium (Debian's chromium and chromium-driver, from
scripts/browser-env). *Ready* is the page's `socium-ready` performance mark (JSON parsed, the
first episode indexed and drawn), from the start of navigation; *scroll* is the median time for
a jump to a random place in the list to be drawn (the scroll event through the next animation
frame), over 50 jumps. Figures in docs/BENCHMARKS.md.
"""

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
SCROLL = """
const list = document.getElementById("list"), done = arguments[arguments.length - 1];
const times = [];
let k = 0;
function jump() {
  if (k++ === 50) { done(times); return; }
  const t0 = performance.now();
  list.scrollTop = Math.floor(Math.random() * (list.scrollHeight - list.clientHeight));
  requestAnimationFrame(() => requestAnimationFrame(() => { times.push(performance.now() - t0); jump(); }));
}
jump();
"""


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socium", default=str(ROOT / "target/release/socium"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        subprocess.run([args.socium, "run", "scenarios/image_scoring.toml", "--episodes", "1",
                        "--set", "game.image_scoring.rounds=1000", "--out", run],
                       cwd=ROOT, check=True, capture_output=True)
        said = subprocess.run([args.socium, "view", run], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
        page = run / "view.html"
        print(said)
        print(f"page: {page.stat().st_size / 2**20:.1f} MiB")
        ready, scroll = [], []
        for _ in range(args.repeats):
            d = browser()
            try:
                d.get(page.as_uri())
                WebDriverWait(d, 120).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")
                rows = int(d.execute_script("return document.getElementById('list').dataset.rows"))
                assert rows == 100_000, rows
                ready.append(d.execute_script(
                    "return performance.getEntriesByName('socium-ready')[0].startTime") / 1000)
                d.set_script_timeout(120)
                scroll.append(statistics.median(d.execute_async_script(SCROLL)))
            finally:
                d.quit()
        print(f"ready: median {statistics.median(ready):.2f} s (min {min(ready):.2f}, max {max(ready):.2f})"
              f" over {args.repeats} loads")
        print(f"scroll jump drawn: median {statistics.median(scroll):.1f} ms")


if __name__ == "__main__":
    main()
