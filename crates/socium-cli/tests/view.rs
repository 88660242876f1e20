//! `socium view`: the page of a run, and bad input refused with its place named and no file
//! written.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const SOCIUM: &str = env!("CARGO_BIN_EXE_socium");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn socium(args: &[&str]) -> Output {
    Command::new(SOCIUM)
        .args(args)
        .current_dir(root())
        .output()
        .expect("the socium binary runs")
}

/// Runs `socium ARGS`, expects it to succeed (showing its stderr if not), and returns its stdout.
fn succeeds(args: &[&str]) -> String {
    let out = socium(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `socium run` of a small donor game (2 episodes) into `dir`, with the `--set` overrides `set`.
fn donor_run(dir: &Path, set: &[&str]) {
    let mut args = vec![
        "run",
        "scenarios/donor_cultural_evolution.toml",
        "--episodes",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ];
    for value in set {
        args.extend(["--set", value]);
    }
    succeeds(&args);
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Runs `socium view ARGS`, expects it to fail, and returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = socium(&[&["view"], args].concat());
    assert!(!out.status.success(), "expected a refusal: {args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_run_becomes_one_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let said = succeeds(&["view", dir.path().to_str().unwrap()]);
    assert!(
        said.contains("view.html (2 rows of metrics.csv; 2 episodes with "),
        "{said}"
    );
    let page = std::fs::read_to_string(dir.path().join("view.html")).unwrap();
    // Nothing is fetched: no script, style or image comes from elsewhere.
    for outside in ["<script src", "<link", "@import", "url(", "https://"] {
        assert!(!page.contains(outside), "the page holds `{outside}`");
    }
    assert!(page.contains(r#"<script id="data" type="application/json">{"kind":"run""#));
    // The transcript's utterances are all in it.
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    assert!(transcript.lines().count() > 10);
    assert_eq!(
        files(dir.path()),
        [
            "metrics.csv",
            "summary.json",
            "transcript.jsonl",
            "view.html"
        ]
    );
}

#[test]
fn the_line_limit_says_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let lines = std::fs::read_to_string(dir.path().join("transcript.jsonl"))
        .unwrap()
        .lines()
        .count();
    let page = dir.path().join("small.html");
    let said = succeeds(&[
        "view",
        dir.path().to_str().unwrap(),
        "--max-lines",
        "5",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(
        said.contains(&format!(
            "left out {} transcript lines over --max-lines 5: the end of episode 0, episode 1; \
             choose one with --episode N",
            lines - 5
        )),
        "{said}"
    );
    assert!(page.exists());
    // One episode alone, by its number.
    let said = succeeds(&["view", dir.path().to_str().unwrap(), "--episode", "1"]);
    assert!(said.contains("; 1 episode with "), "{said}");
}

#[test]
fn a_folder_without_outputs_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(&[dir.path().to_str().unwrap()]);
    assert!(
        err.contains(&format!(
            "error: {}: no run outputs: expected summary.json with metrics.csv (socium run) or \
             generations.csv (socium evolve)",
            dir.path().display()
        )),
        "{err}"
    );
    assert!(files(dir.path()).is_empty());
    let missing = dir.path().join("nothing");
    let err = refused(&[missing.to_str().unwrap()]);
    assert!(
        err.contains(&format!("{}: no such folder", missing.display())),
        "{err}"
    );
    assert!(files(dir.path()).is_empty());
}

#[test]
fn a_truncated_transcript_is_refused_at_its_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let path = dir.path().join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    // Cut in the middle of the last line, as a killed writer would leave it.
    std::fs::write(&path, &text[..text.len() - 20]).unwrap();
    let before = files(dir.path());
    let err = refused(&[dir.path().to_str().unwrap()]);
    assert!(
        err.contains(&format!(
            "error: {}:{lines}: not a transcript line: ",
            path.display()
        )),
        "{err}"
    );
    assert_eq!(files(dir.path()), before, "no page, no temporary file");
    // A garbled line in the middle is named by its number too.
    let mut garbled: Vec<&str> = text.lines().collect();
    garbled[2] = r#"{"episode":0,"step":"#;
    std::fs::write(&path, garbled.join("\n")).unwrap();
    let err = refused(&[dir.path().to_str().unwrap()]);
    assert!(
        err.contains(&format!("{}:3: not a transcript line", path.display())),
        "{err}"
    );
    assert_eq!(files(dir.path()), before);
}

#[test]
fn an_episode_out_of_range_is_refused_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let before = files(dir.path());
    let err = refused(&[dir.path().to_str().unwrap(), "--episode", "7"]);
    assert!(
        err.contains(&format!(
            "error: {}: no episode 7 (the transcript has 2 episodes, 0 to 1)",
            dir.path().join("transcript.jsonl").display()
        )),
        "{err}"
    );
    assert_eq!(files(dir.path()), before);
}

/// An episode the transcript holds but `--max-lines` keeps none of is named as such (it had
/// read "no episode 0 (the transcript has 2 episodes, 0 to 1)"), and an empty transcript holds no
/// episode (it had read "0 episodes, 0 to 0"), in `view` and `replay` alike.
#[test]
fn an_episode_cut_away_and_an_empty_transcript_are_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let transcript = dir.path().join("transcript.jsonl");
    let args = [
        dir.path().to_str().unwrap(),
        "--episode",
        "0",
        "--max-lines",
        "0",
    ];
    let err = refused(&args);
    assert!(
        err.contains(&format!(
            "{}: episode 0: --max-lines 0 keeps none of its lines",
            transcript.display()
        )),
        "{err}"
    );
    std::fs::write(&transcript, "").unwrap();
    let expected = format!(
        "{}: no episode 0 (the transcript holds no episode)",
        transcript.display()
    );
    let err = refused(&[dir.path().to_str().unwrap(), "--episode", "0"]);
    assert!(err.contains(&expected), "{err}");
    let replay = socium(&["replay", dir.path().to_str().unwrap(), "--episode", "0"]);
    assert!(!replay.status.success());
    let err = String::from_utf8_lossy(&replay.stderr);
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn a_garbled_metrics_file_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &[]);
    let path = dir.path().join("metrics.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("\n0,", "\nzero,", 1)).unwrap();
    let err = refused(&[dir.path().to_str().unwrap()]);
    assert!(
        err.contains(&format!(
            "{}:2: `episode`: expected a number, found `zero`",
            path.display()
        )),
        "{err}"
    );
    // A row short of a cell, at its own line.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let cells = lines[0].split(',').count();
    let short = lines[2].rsplit_once(',').unwrap().0.to_owned();
    lines[2] = short;
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let err = refused(&[dir.path().to_str().unwrap()]);
    let expected = format!(
        "{}:3: {} cells, the header has {cells}",
        path.display(),
        cells - 1
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!dir.path().join("view.html").exists());
}

#[test]
fn a_run_without_a_transcript_shows_its_metrics_and_refuses_an_episode() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &["output.transcript=false"]);
    let err = refused(&[dir.path().to_str().unwrap(), "--episode", "0"]);
    assert!(
        err.contains(&format!(
            "{}: no transcript, so no episode 0 to show",
            dir.path().join("transcript.jsonl").display()
        )),
        "{err}"
    );
    assert!(!dir.path().join("view.html").exists());
    let said = succeeds(&["view", dir.path().to_str().unwrap()]);
    assert!(
        said.contains("(2 rows of metrics.csv; no transcript)"),
        "{said}"
    );
    let page = std::fs::read_to_string(dir.path().join("view.html")).unwrap();
    assert!(page.contains(r#""transcript":false,"episodes":[]"#));
}

#[test]
fn the_runs_graph_is_drawn_when_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    donor_run(dir.path(), &["output.graph=true"]);
    let edges = std::fs::read_to_string(dir.path().join("graph.edges")).unwrap();
    let first: Vec<&str> = edges.lines().next().unwrap().split(' ').collect();
    assert!(
        socium(&["view", dir.path().to_str().unwrap()])
            .status
            .success()
    );
    let page = std::fs::read_to_string(dir.path().join("view.html")).unwrap();
    // `a b relationship weight` becomes `[a,b,weight]`.
    let tie = format!(r#""edges":[[{},{},{}"#, first[0], first[1], first[3]);
    assert!(
        page.contains(&tie),
        "{tie} in {}",
        &page[page.find("\"edges\"").unwrap()..][..80]
    );
    // A garbled edge list is named at its line.
    std::fs::write(dir.path().join("graph.edges"), format!("{edges}0 x\n")).unwrap();
    let err = refused(&[dir.path().to_str().unwrap()]);
    let line = edges.lines().count() + 1;
    assert!(
        err.contains(&format!(
            "{}:{line}: expected `a b relationship weight`, found `0 x`",
            dir.path().join("graph.edges").display()
        )),
        "{err}"
    );
}

/// The data a page holds (its `<script id="data">` element's JSON).
fn page_data(page: &str) -> serde_json::Value {
    let start = page
        .find(r#"<script id="data" type="application/json">"#)
        .unwrap();
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    serde_json::from_str(&json.replace("<\\/", "</")).unwrap()
}

#[test]
fn agents_are_labelled_as_each_episode_numbered_them() {
    // A label shared by two groups that are not next to each other, and a timeline change that
    // adds two agents to the first group from episode 1, renumbering those after them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layouts.toml");
    let scenario = "[scenario]\nname = \"layouts\"\nepisodes = 2\n[game.donor_cultural]\n\
                    rounds = 2\ngames = 1\n[[agents]]\nstrategy = \"allc\"\ncount = 2\n\
                    label = \"givers\"\n[[agents]]\nstrategy = \"alld\"\ncount = 2\n\
                    [[agents]]\nstrategy = \"allc\"\ncount = 2\nlabel = \"givers\"\n\
                    [output]\ntranscript = true\n[[timeline]]\nepisode = 1\n\
                    set = { \"agents[0].count\" = 4 }\n";
    std::fs::write(&file, scenario).unwrap();
    let out = dir.path().join("out");
    succeeds(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["layouts"],
        serde_json::json!([
            {"episode": 0, "agents": [["givers", 2], ["alld", 2], ["givers", 2]]},
            {"episode": 1, "agents": [["givers", 4], ["alld", 2], ["givers", 2]]},
        ])
    );
    succeeds(&["view", out.to_str().unwrap()]);
    let data = page_data(&std::fs::read_to_string(out.join("view.html")).unwrap());
    let (g, d) = ("givers", "alld");
    assert_eq!(
        data["layouts"],
        serde_json::json!([[g, g, d, d, g, g], [g, g, g, g, d, d, g, g]])
    );
    let layout_of = |k: usize| data["episodes"][k]["layout"].as_u64();
    assert_eq!((layout_of(0), layout_of(1)), (Some(0), Some(1)));
    // Every speaker of an episode has a label in its layout: agents 6 and 7 speak only in
    // episode 1.
    for k in 0..2 {
        let labels = data["layouts"][layout_of(k).unwrap() as usize]
            .as_array()
            .unwrap()
            .len();
        for row in data["episodes"][k]["made"].as_array().unwrap() {
            assert!((row[2].as_u64().unwrap() as usize) < labels);
        }
    }
}
