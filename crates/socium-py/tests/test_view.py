"""`socium view`'s page in a real headless Chromium (Debian's chromium and chromium-driver, which
scripts/browser-env installs; scripts/test runs it): the page of a bundled run opened from disk
shows every utterance of the episode, highlights the speaker of the one selected, moves with its
scrubber, and logs no error. With SOCIUM_SCREENSHOTS=1 it also saves each game's page as
docs/figures/view_<game>.png (off by default, so that a test run leaves the tree clean)."""

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason=f"no headless browser ({CHROMIUM}, {CHROMEDRIVER}): scripts/browser-env installs Debian's "
    "chromium and chromium-driver (scripts/test runs it)",
)

# One small run of a bundled scenario per game: two short episodes, a transcript kept.
RUNS = {
    "among_us": ["scenarios/among_us.toml", "--set", "max_steps=60"],
    "mafia": ["scenarios/werewolf.toml", "--set", "output.transcript=true"],  # longer than mafia.toml
    "donor": ["scenarios/donor_cultural_evolution.toml"],
    "negotiation": ["scenarios/negotiation.toml"],
    "opinion": [
        "scenarios/opinion_deffuant.toml",
        "--set", "output.transcript=true",
        "--set", "agents[0].count=24",
        "--set", "max_steps=40",
    ],
    "punishment": ["scenarios/punishment.toml"],
}


def socium(*args) -> subprocess.CompletedProcess:
    binary = ROOT / "target/debug/socium"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: `cargo test --workspace` builds it (scripts/test runs it first)")
    done = subprocess.run([binary, *map(str, args)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Each game's run folder, with its page written by `socium view`."""
    out = {}
    for game, args in RUNS.items():
        folder = tmp_path_factory.mktemp(game)
        socium("run", *args, "--episodes", "2", "--out", folder)
        said = socium("view", folder).stdout
        assert f"wrote {folder / 'view.html'} (2 rows of metrics.csv; 2 episodes with " in said, said
        out[game] = folder
    return out


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--allow-file-access-from-files"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield d
    d.quit()


def open_page(driver, folder: Path):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get((folder / "view.html").as_uri())
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")


def errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def made_lines(folder: Path, episode: int) -> list[dict]:
    """The transcript's `made` lines (an utterance each) of `episode`."""
    lines = [json.loads(l) for l in open(folder / "transcript.jsonl")]
    return [l for l in lines if "id" in l and l["episode"] == episode]


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


@pytest.mark.parametrize("game", ["among_us", "donor"])
def test_rows_selection_scrubber_and_console(driver, pages, game):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    folder = pages[game]
    open_page(driver, folder)
    (listing,) = css(driver, "#list")
    for episode in [0, 1]:
        Select(css(driver, "#episode")[0]).select_by_index(episode)
        made = made_lines(folder, episode)
        assert int(listing.get_attribute("data-rows")) == len(made) > 0
        # The list renders only the rows in view, each where its index puts it: scrolled through,
        # it shows every row once, with the transcript's text.
        seen = {}
        for top in range(0, 46 * len(made) + 1, 300):
            driver.execute_script("arguments[0].scrollTop = arguments[1]", listing, top)
            driver.execute_script("return new Promise(r => requestAnimationFrame(() => r()))")
            rendered = css(driver, "#list .row")
            assert len(rendered) < 60, "the list renders only what is in view"
            for row in rendered:
                seen[int(row.get_attribute("data-index"))] = row.text
        assert sorted(seen) == list(range(len(made)))
        first = made[0].get("text") or made[0]["act"]["kind"]
        assert first in seen[0]

    # Clicking a row makes its speaker the highlighted node, and only it.
    Select(css(driver, "#episode")[0]).select_by_index(0)
    made = made_lines(folder, 0)
    row = css(driver, "#list .row")[3]
    index = int(row.get_attribute("data-index"))
    row.click()  # the list redraws: `row` is stale from here on
    speaker = made[index]["speaker"]
    lit = css(driver, "#graph circle.node.speaker")
    assert [int(n.get_attribute("data-agent")) for n in lit] == [speaker]
    assert [int(r.get_attribute("data-index")) for r in css(driver, "#list .row.current")] == [index]
    assert int(css(driver, "#step")[0].get_attribute("data-step")) == made[index]["step"]

    # The scrubber moves the step (and with it the current utterance).
    (scrubber,) = css(driver, "#scrubber")
    before = int(css(driver, "#step")[0].get_attribute("data-step"))
    scrubber.send_keys(Keys.END)
    after = int(css(driver, "#step")[0].get_attribute("data-step"))
    last = max(l["step"] for l in made)
    assert after != before and after >= last
    scrubber.send_keys(Keys.HOME)
    assert int(css(driver, "#step")[0].get_attribute("data-step")) == 0

    # The metrics tab draws a chart per column of metrics.csv but the episode number.
    css(driver, ".tab[data-tab=metrics]")[0].click()
    columns = open(folder / "metrics.csv").readline().strip().split(",")
    assert len(css(driver, "#charts .chart")) == len(columns) - 1
    assert errors(driver) == []


def test_beliefs_are_drawn_where_the_game_states_them(driver, pages):
    open_page(driver, pages["among_us"])
    believe = [l for l in made_lines(pages["among_us"], 0) if l["act"]["kind"] == "believe"]
    assert believe, "scripted crewmates state their beliefs"
    agents = {l["speaker"] for l in believe}
    assert len(css(driver, "#beliefs polyline")) == len(agents)
    open_page(driver, pages["donor"])
    assert css(driver, "#beliefs")[0].get_attribute("hidden") is not None
    assert errors(driver) == []


def test_the_hidden_team_is_marked_by_its_kills(driver, pages):
    # Only the hidden team kills (Mafia's wolves, Among Us's imposters): the graph marks them.
    for game in ["mafia", "among_us"]:
        open_page(driver, pages[game])
        killers = {l["speaker"] for l in made_lines(pages[game], 0) if l["act"]["kind"] == "kill"}
        marked = {int(n.get_attribute("data-agent")) for n in css(driver, "#graph circle.node.team")}
        assert marked == killers, game
    assert killers, "the imposter kills in the first episode"
    assert errors(driver) == []


def test_each_agent_is_named_with_its_hidden_role(driver, pages):
    # The transcript's roles line of the episode (Mafia's, Among Us's) names each speaker.
    for game in ["mafia", "among_us"]:
        lines = [json.loads(l) for l in open(pages[game] / "transcript.jsonl")]
        roles = next(l["roles"] for l in lines if "roles" in l and l["episode"] == 0)
        open_page(driver, pages[game])
        first = made_lines(pages[game], 0)[0]
        meta = css(driver, '#list .row[data-index="0"] .meta')[0].text
        speaker = first["speaker"]
        assert f"agent {speaker} [{roles[speaker]}]" in meta, (game, meta)
    open_page(driver, pages["donor"])
    assert "[" not in css(driver, '#list .row[data-index="0"] .meta')[0].text
    assert errors(driver) == []


def test_every_game_opens_without_errors(driver, pages):
    shots = os.environ.get("SOCIUM_SCREENSHOTS") == "1"
    for game, folder in pages.items():
        open_page(driver, folder)
        made = made_lines(folder, 0)
        assert int(css(driver, "#list")[0].get_attribute("data-rows")) == len(made), game
        assert errors(driver) == [], game
        if shots:
            # An utterance a third of the way in selected (one a later reward settles, where the
            # game has them): what a reader sees.
            lines = [json.loads(l) for l in open(folder / "transcript.jsonl")]
            settled = {l["settles"] for l in lines if "settles" in l and l["episode"] == 0}
            third = max(l["step"] for l in made) // 3
            index = next((i for i, l in enumerate(made) if l["id"] in settled),
                         next(i for i, l in enumerate(made) if l["step"] >= third))
            driver.execute_script("document.getElementById('list').scrollTop = arguments[0]", max(0, 46 * index - 200))
            driver.execute_script("return new Promise(r => requestAnimationFrame(() => r()))")
            css(driver, f'#list .row[data-index="{index}"]')[0].click()
            driver.save_screenshot(str(ROOT / f"docs/figures/view_{game}.png"))


def test_evolve_outputs_show_their_generations(driver, tmp_path):
    socium("evolve", "scenarios/image_scoring_evolution.toml", "--runs", "2", "--generations", "6",
           "--out", tmp_path)
    socium("view", tmp_path)
    open_page(driver, tmp_path)
    assert css(driver, ".tab[data-tab=metrics]")[0].text == "Generations"
    with open(tmp_path / "generations.csv", newline="") as table:
        columns = [c for c in next(csv.reader(table)) if c not in ("run", "generation")]
    assert len(css(driver, "#charts .chart")) == len(columns)
    assert len(css(driver, "#charts .chart path.series")) == 2 * len(columns)
    assert errors(driver) == []


def test_the_scrubber_stays_on_a_step_with_no_utterance(driver, tmp_path):
    # A step that holds only a settle line (here the last of episode 0, one past its last
    # utterance): the scrubber stays on it (it had snapped back to the last utterance's step, and
    # Play, asked for the next step, never reached the end), and the totals count its rewards.
    socium("run", "scenarios/donor_cultural_evolution.toml", "--episodes", "2", "--out", tmp_path)
    lines = [json.loads(l) for l in open(tmp_path / "transcript.jsonl")]
    first = [l for l in lines if l["episode"] == 0 and "id" in l]
    last, step = first[-1], first[-1]["step"] + 1
    settle = {"episode": 0, "step": step, "settles": last["id"],
              "rewards": [{"agent": last["speaker"], "dimension": "payoff", "value": 1000.0}]}
    cut = max(i for i, l in enumerate(lines) if l["episode"] == 0) + 1
    lines.insert(cut, settle)
    (tmp_path / "transcript.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    socium("view", tmp_path)
    open_page(driver, tmp_path)
    from selenium.webdriver.common.keys import Keys

    (scrubber,) = css(driver, "#scrubber")
    scrubber.send_keys(Keys.END)
    assert int(css(driver, "#step")[0].get_attribute("data-step")) == step
    scrubber.send_keys(Keys.ARROW_LEFT)
    assert int(css(driver, "#step")[0].get_attribute("data-step")) == step - 1
    assert errors(driver) == []


def test_a_constant_metric_has_distinct_axis_labels(driver, tmp_path):
    # Two episodes of 100 steps: the `steps` chart is a constant 100, its axis 99.5 to 100.5,
    # whose ticks read 99.5, 99.8, 100, 100, 101 at three digits, and at four (the fewest that
    # tell them apart) 99.5, 99.75, 100, 100.3, 100.5; every chart's five ticks differ.
    socium("run", "scenarios/leading_eight.toml", "--episodes", "2", "--set", "output.transcript=false",
           "--out", tmp_path)
    socium("view", tmp_path)
    open_page(driver, tmp_path)
    css(driver, ".tab[data-tab=metrics]")[0].click()
    charts = css(driver, "#charts .chart")
    assert charts
    for chart in charts:
        ticks = [t.get_attribute("textContent") for t in chart.find_elements("css selector", "text.tick")]
        assert len(ticks) == 5 and len(set(ticks)) == 5, ticks
    steps = [c for c in charts if c.find_elements("css selector", "h4")[0].text == "steps"]
    (steps,) = steps
    ticks = [t.get_attribute("textContent") for t in steps.find_elements("css selector", "text.tick")]
    assert ticks == ["99.5", "99.75", "100", "100.3", "100.5"]
    assert errors(driver) == []
