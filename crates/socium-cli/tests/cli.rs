//! The `socium` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn socium(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_socium"))
        .args(args)
        .current_dir(workspace())
        .output()
        .expect("the socium binary runs")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A run that cannot put one of its files in place (a folder in the way) says so once and
/// leaves the folder as it was: no file of it renamed in, no partial file left; a leftover
/// partial file of a killed run is removed by the next run.
#[test]
fn a_run_that_cannot_write_a_file_commits_none() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ipd");
    std::fs::create_dir_all(dir.join("summary.json")).unwrap();
    std::fs::write(dir.join(".socium-partial-killed"), b"half").unwrap();
    let o = run_ipd(&dir, &[]);
    assert!(!o.status.success());
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("summary.json: a folder is in the way"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("in the way").count(), 1, "{stderr}");
    assert_eq!(names_in(&dir), ["summary.json"]);
}

/// A long run into `dir`, started by `sh` (`trap` sets what its signals do), once the partial
/// file of its transcript is there; killed when the test ends.
#[cfg(unix)]
struct LongRun(std::process::Child);

#[cfg(unix)]
impl LongRun {
    fn start(dir: &Path, traps: &str) -> LongRun {
        let script = format!(
            "{traps} exec \"$0\" run scenarios/ipd_tournament.toml --set turns=1 \
             --episodes 100000000 --out \"$1\""
        );
        let child = Command::new("sh")
            .args([
                "-c",
                &script,
                env!("CARGO_BIN_EXE_socium"),
                dir.to_str().unwrap(),
            ])
            .current_dir(workspace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let run = LongRun(child);
        // The transcript's partial file is made before the first episode.
        let started = std::time::Instant::now();
        while !dir.exists() || names_in(dir).is_empty() {
            assert!(started.elapsed().as_secs() < 60, "no partial file appeared");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let partial = names_in(dir);
        assert!(partial[0].starts_with(".socium-partial-"), "{partial:?}");
        run
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([name, &self.0.id().to_string()])
            .status();
        assert!(sent.unwrap().success());
    }

    /// The exit status, or `None` if it is still running after `seconds`.
    fn exit_within(&mut self, seconds: f64) -> Option<Option<i32>> {
        let started = std::time::Instant::now();
        while started.elapsed().as_secs_f64() < seconds {
            if let Some(status) = self.0.try_wait().unwrap() {
                return Some(status.code());
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }
}

#[cfg(unix)]
impl Drop for LongRun {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A run stopped by a signal (SIGTERM here; Ctrl-C's SIGINT and SIGHUP go the same way, but a
/// test started in the background has SIGINT ignored, see the next test) exits with the status
/// a shell reports for it (128 + the signal's number) and leaves its folder as it was: its
/// partial transcript removed, no output in place.
#[cfg(unix)]
#[test]
fn a_run_stopped_by_a_signal_leaves_no_partial_file() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ipd");
    let mut run = LongRun::start(&dir, "");
    run.signal("-TERM");
    assert_eq!(run.exit_within(30.0), Some(Some(128 + 15)));
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
}

/// A signal the process was started ignoring stays ignored (`nohup`'s SIGHUP, a background
/// job's SIGINT; here SIGINT, ignored by the shell that starts it): SIGINT leaves the run going,
/// SIGTERM still stops it cleanly.
#[cfg(unix)]
#[test]
fn a_signal_ignored_at_the_start_stays_ignored() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ipd");
    let mut run = LongRun::start(&dir, "trap '' INT;");
    run.signal("-INT");
    assert_eq!(run.exit_within(0.5), None, "SIGINT stopped it");
    run.signal("-TERM");
    assert_eq!(run.exit_within(30.0), Some(Some(128 + 15)));
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
}

/// `socium run` of two episodes of the IPD tournament into `dir`, with `more` arguments.
fn run_ipd(dir: &Path, more: &[&str]) -> Output {
    let args = [
        "run",
        "scenarios/ipd_tournament.toml",
        "--episodes",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ];
    socium(&[&args[..], more].concat())
}

/// The names of the files in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A run into a folder of an earlier one leaves that run's files it does not write itself (its
/// transcript, the page made of it) no place to mislead `socium view` or `replay`.
#[test]
fn a_run_removes_the_earlier_outputs_it_does_not_write() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ipd");
    assert!(run_ipd(&dir, &[]).status.success());
    assert!(socium(&["view", dir.to_str().unwrap()]).status.success());
    assert!(dir.join("transcript.jsonl").is_file() && dir.join("view.html").is_file());
    let o = run_ipd(&dir, &["--set", "output.transcript=false"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(names_in(&dir), ["metrics.csv", "summary.json"]);
}

/// `socium run` and `socium evolve` into one folder: each removes the other's outputs, and a
/// run refuses a folder with an evolution's checkpoints (which may be a paused run's) rather than
/// remove them. The folder had held both, and `socium view` showed the older one.
#[test]
fn a_folder_holds_a_run_or_an_evolution_not_both() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("both");
    assert!(run_ipd(&dir, &[]).status.success());
    assert!(socium(&["view", dir.to_str().unwrap()]).status.success());
    let evolve = |dir: &Path| {
        socium(&[
            "evolve",
            "scenarios/image_scoring_evolution.toml",
            "--runs",
            "1",
            "--generations",
            "2",
            "--out",
            dir.to_str().unwrap(),
        ])
    };
    let o = evolve(&dir);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let evolved = [
        "checkpoints",
        "cooperation.png",
        "frequencies.png",
        "generations.csv",
        "summary.json",
    ];
    assert_eq!(names_in(&dir), evolved);
    // Nothing to replay, and why.
    let replay = |dir: &Path| text(&socium(&["replay", dir.to_str().unwrap()]).stderr);
    assert!(replay(&dir).contains("no transcript (`socium evolve` keeps none"));
    let empty = out.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(replay(&empty).contains("no transcript (no run was written here"));
    let o = run_ipd(&dir, &[]);
    assert!(!o.status.success());
    let expected = format!(
        "{}: the checkpoints of a `socium evolve` run",
        dir.join("checkpoints").display()
    );
    assert!(text(&o.stderr).contains(&expected), "{}", text(&o.stderr));
    assert_eq!(names_in(&dir), evolved, "a refused run changes nothing");
    std::fs::remove_dir_all(dir.join("checkpoints")).unwrap();
    let o = run_ipd(&dir, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        names_in(&dir),
        ["metrics.csv", "summary.json", "transcript.jsonl"]
    );
    // An empty checkpoints folder (an evolution that failed before its first generation) holds
    // no run: `socium evolve` would start afresh there, and `socium run` writes there too.
    std::fs::create_dir(dir.join("checkpoints")).unwrap();
    let o = run_ipd(&dir, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn run_prints_a_table_and_writes_the_outputs() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ipd");
    let o = socium(&[
        "run",
        "scenarios/ipd_tournament.toml",
        "--episodes",
        "7",
        "--seed",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("IPD tournament — game repeated, seed 3, 7 episodes, 1400 steps"),
        "{stdout}"
    );
    // TFT's round-robin total is 3597 over 7 rounds (see tests/published_results.rs).
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("tft") && l.contains("513.8571")),
        "{stdout}"
    );
    assert!(stdout.contains("cooperation_rate"));
    for file in ["transcript.jsonl", "metrics.csv", "summary.json"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(leftovers.len(), 3, "no temporary files left behind");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["episodes"], 7);
    assert_eq!(summary["groups"].as_array().unwrap().len(), 8);
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 8);
    assert!(metrics.starts_with("episode,steps,cooperation_rate,mean_return,mean_payoff\n"));
}

#[test]
fn bad_scenarios_fail_with_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"x\"\n[game.repeated]\nnoise = 2\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    for command in ["validate", "run"] {
        let o = match command {
            "run" => socium(&[
                command,
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]),
            _ => socium(&[command, file.to_str().unwrap()]),
        };
        assert!(!o.status.success());
        let stderr = text(&o.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(
            stderr.contains(
                "bad.toml:4:9: `game.repeated.noise`: expected a probability in [0, 1], found 2"
            ),
            "{stderr}"
        );
        assert!(!out.exists(), "nothing written, not even the output folder");
    }
    let o = socium(&["validate", "scenarios/ipd_tournament.toml"]);
    assert!(o.status.success());
    assert!(
        text(&o.stdout)
            .contains("ok — \"IPD tournament\": game repeated, 8 agents (0 external, 0 on ONNX or language models), 70 episodes")
    );
}

#[test]
fn run_refuses_external_agents_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ext.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"x\"\n[game.repeated]\n[[agents]]\nstrategy = \"tft\"\n\
         [[agents]]\ncontroller = \"external\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = socium(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(
            "external agents (ids 1): `socium run` plays scripted, random and policy agents only"
        ),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());
}

#[test]
fn list_names_games_strategies_generators_and_the_reward_catalogue() {
    let o = socium(&["list"]);
    assert!(o.status.success());
    let stdout = text(&o.stdout);
    for needle in [
        "game donor_cultural",
        "game image_scoring",
        "game norms",
        "game repeated",
        "apologetic_discriminator",
        "generosity",
        "watts_strogatz",
        "reputation",
        "min_max",
        // The reward-design catalogue: every family of methods (docs/rewards.md).
        "log_sigmoid { reference }",
        "\"log_sum\"",
        "svo_penalty",
        "[scalar.heron]",
        "potentials ([shaping.<name>])",
        "[attribution] method",
        "graph dynamics ([ties])",
        "values that spread ([values]",
        "interventions ([[timeline]])",
        "game punishment",
        "game opinion",
    ] {
        assert!(
            stdout.contains(needle),
            "`{needle}` missing from:\n{stdout}"
        );
    }
}

#[test]
fn set_overrides_values_and_is_checked_like_the_file() {
    let out = tempfile::tempdir().unwrap();
    let o = socium(&[
        "run",
        "scenarios/ipd_tournament.toml",
        "--set",
        "game.repeated.turns=10",
        "--set",
        "scenario.episodes=7",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("7 episodes, 70 steps"),
        "{}",
        text(&o.stdout)
    );
    let o = socium(&[
        "validate",
        "scenarios/ipd_tournament.toml",
        "--set",
        "game.repeated.noise=5",
    ]);
    assert!(!o.status.success());
    assert_eq!(
        text(&o.stderr).trim_end(),
        "error: scenarios/ipd_tournament.toml: with the override game.repeated.noise=5: \
         `game.repeated.noise`: expected a probability in [0, 1], found 5"
    );
}

#[test]
fn evolve_gives_the_same_outputs_with_one_or_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = |threads: &str| {
        let out = dir.path().join(threads);
        let o = socium(&[
            "evolve",
            "scenarios/image_scoring_evolution.toml",
            "--runs",
            "4",
            "--generations",
            "6",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains("4 runs × 6 generations"));
        [
            "generations.csv",
            "summary.json",
            "frequencies.png",
            "cooperation.png",
        ]
        .map(|f| std::fs::read(out.join(f)).unwrap())
    };
    let one = outputs("1");
    assert_eq!(one, outputs("2"));
    let csv = String::from_utf8(one[0].clone()).unwrap();
    assert!(csv.starts_with("run,generation,freq[discriminator(k=0)],freq[allc],freq[alld],mean_payoff,cooperation_rate,mean_reputation\n"));
    assert_eq!(csv.lines().count(), 1 + 4 * 6);

    let o = socium(&[
        "evolve",
        "scenarios/ipd_tournament.toml",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no [evolution] table"),
        "{}",
        text(&o.stderr)
    );
}

/// A type label with parameters holds commas: generations.csv quotes it (RFC 4180), so that the
/// header has as many cells as every row, and `socium view` reads the file (it had refused it:
/// "generations.csv:2: 8 cells, the header has 9").
#[test]
fn a_label_with_commas_is_one_quoted_cell_of_generations_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("notebook");
    let o = socium(&[
        "evolve",
        "scenarios/donor_cultural_notebook.toml",
        "--runs",
        "1",
        "--generations",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = std::fs::read_to_string(out.join("generations.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("run,generation,\"freq[reciprocal(generosity=0.1, initial=0.6)]\",freq[fixed(share=0.5)],"),
        "{header}"
    );
    let o = socium(&["view", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// `--episodes` is checked with the file: a `[[timeline]]` change past it is refused, as the
/// file's own `episodes` would refuse it (it had been dropped without a word).
#[test]
fn episodes_from_the_command_line_are_checked_against_the_timeline() {
    let out = tempfile::tempdir().unwrap();
    let o = socium(&[
        "run",
        "scenarios/intervention.toml",
        "--episodes",
        "3",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(
            "--episodes 3: the [[timeline]] change at scenarios/intervention.toml:28:1, \
             from episode 10, is past the run (episodes 0 to 2)"
        ),
        "{}",
        text(&o.stderr)
    );
}

/// `--generations` of `socium evolve` and of `socium bench evolve` is checked against the
/// timeline as the file's own `generations` would be (the bench's had been dropped unchecked).
#[test]
fn generations_from_the_command_line_are_checked_against_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changed.toml");
    let scenario =
        std::fs::read_to_string(workspace().join("scenarios/image_scoring_evolution.toml"))
            .unwrap()
            + "\n[[timeline]]\ngeneration = 30\nset = { \"game.image_scoring.cost\" = 0.2 }\n";
    std::fs::write(&file, scenario).unwrap();
    let file = file.to_str().unwrap();
    let out = dir.path().join("out");
    for args in [
        vec![
            "evolve",
            file,
            "--generations",
            "20",
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "bench",
            "evolve",
            file,
            "--generations",
            "20",
            "--repeats",
            "1",
        ],
    ] {
        let o = socium(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o.stderr)
                .contains(":36:1, from generation 30, is past the run (generations 0 to 19)"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

/// generations.csv names the game's first metric, which it holds: the opinion game's clusters
/// (the header had said `cooperation_rate` for every game).
#[test]
fn generations_csv_names_the_games_first_metric() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opinion.toml");
    let scenario = std::fs::read_to_string(workspace().join("scenarios/opinion_deffuant.toml"))
        .unwrap()
        + "\n[evolution]\nrule = \"proportional\"\ngenerations = 2\n";
    std::fs::write(&file, scenario).unwrap();
    let out = dir.path().join("out");
    let o = socium(&[
        "evolve",
        file.to_str().unwrap(),
        "--runs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = std::fs::read_to_string(out.join("generations.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "run,generation,freq[sincere],mean_payoff,clusters,mean_reputation"
    );
}

/// A checkpoint covers the files the scenario reads: resuming after its edge list changed is
/// refused, as after the scenario file changed.
#[test]
fn an_evolution_does_not_resume_over_a_changed_edge_list() {
    let dir = tempfile::tempdir().unwrap();
    let original =
        std::fs::read_to_string(workspace().join("scenarios/image_scoring_evolution.toml"));
    let file = dir.path().join("ring.toml");
    std::fs::write(
        &file,
        original.unwrap() + "\n[graph.edge_list]\npath = \"ring.edges\"\n",
    )
    .unwrap();
    let ring = |skip: usize| -> String {
        (0..60)
            .filter(|&i| i != skip)
            .map(|i| format!("{i} {}\n", (i + 1) % 60))
            .collect()
    };
    let edges = dir.path().join("ring.edges");
    std::fs::write(&edges, ring(60)).unwrap();
    let out = dir.path().join("out");
    let evolve = |extra: &[&str]| {
        let mut args = vec![
            "evolve",
            file.to_str().unwrap(),
            "--runs",
            "1",
            "--generations",
            "20",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        socium(&args)
    };
    let o = evolve(&["--pause-at", "5"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(&edges, ring(7)).unwrap();
    let o = evolve(&["--resume"]);
    assert!(
        text(&o.stderr).contains("checkpoint of another setup")
            && text(&o.stderr).contains("the files it reads"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(&edges, ring(60)).unwrap();
    let o = evolve(&["--resume"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn a_paused_evolution_resumes_to_the_same_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let args = |out: &Path| -> Vec<String> {
        [
            "evolve",
            "scenarios/image_scoring_evolution.toml",
            "--runs",
            "2",
            "--generations",
            "3000",
            "--threads",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |extra: &[&str], out: &Path| {
        let mut all = args(out);
        all.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        socium(&refs)
    };
    assert!(run(&[], &a).status.success());

    // Play the same evolution to a pause at generation 50 (as a kill after that checkpoint
    // would leave it), then resume it.
    let o = run(&["--pause-at", "50"], &b);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("paused 2 runs after generation 50"));
    for r in 0..2 {
        let state = b.join(format!("checkpoints/run-{r}.json"));
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
        assert_eq!(saved["generation"], 50, "run {r}");
    }
    assert!(!b.join("generations.csv").exists(), "paused before the end");
    let o = run(&[], &b);
    assert!(
        !o.status.success(),
        "a new run refuses to overwrite checkpoints"
    );
    assert!(text(&o.stderr).contains("holds checkpoints of an earlier run: pass --resume"));
    let o = run(&["--resume", "--pause-at", "3000"], &b);
    assert!(
        text(&o.stderr).contains("--pause-at 3000: expected a generation in 1..3000"),
        "{}",
        text(&o.stderr)
    );
    // A pause the checkpoints are past is refused, and leaves them as they were.
    let o = run(&["--resume", "--pause-at", "50"], &b);
    assert!(
        text(&o.stderr).contains(
            "run 0 is checkpointed after generation 50: a pause after generation 50 is behind it"
        ),
        "{}",
        text(&o.stderr)
    );
    assert!(!b.join("generations.csv").exists(), "nothing played");
    let o = run(&["--resume"], &b);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for file in [
        "generations.csv",
        "summary.json",
        "frequencies.png",
        "cooperation.png",
    ] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
    // The finished run, started again without --resume, is refused as finished.
    let o = run(&[], &b);
    assert!(
        text(&o.stderr).contains(
            "holds the checkpoints of this run, finished: pass --resume to write its outputs \
             again, or choose another --out"
        ),
        "{}",
        text(&o.stderr)
    );

    // A foreign, a truncated and a corrupt checkpoint are each refused with their own error.
    let o = run(&["--resume", "--seed", "5"], &b);
    assert!(
        text(&o.stderr).contains("checkpoint of another setup"),
        "{}",
        text(&o.stderr)
    );
    // So is one whose overrides, generations or scenario file differ.
    let o = run(&["--resume", "--set", "game.image_scoring.cost=0.2"], &b);
    assert!(text(&o.stderr).contains("checkpoint of another setup"));
    let mut fewer = args(&b);
    fewer[5] = "2000".into();
    fewer.push("--resume".into());
    let o = socium(&fewer.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(text(&o.stderr).contains("checkpoint of another setup"));
    let edited = dir.path().join("edited.toml");
    let original =
        std::fs::read_to_string(workspace().join("scenarios/image_scoring_evolution.toml"));
    std::fs::write(&edited, original.unwrap() + "# edited\n").unwrap();
    let mut other = args(&b);
    other[1] = edited.to_str().unwrap().into();
    other.push("--resume".into());
    let o = socium(&other.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        text(&o.stderr).contains("checkpoint of another setup"),
        "{}",
        text(&o.stderr)
    );
    let history = b.join("checkpoints/run-1.history.jsonl");
    let lines = std::fs::read_to_string(&history).unwrap();
    std::fs::write(&history, &lines[..lines.len() / 2]).unwrap();
    let o = run(&["--resume"], &b);
    assert!(
        text(&o.stderr).contains("corrupt or truncated checkpoint"),
        "{}",
        text(&o.stderr)
    );
    std::fs::write(b.join("checkpoints/run-0.json"), "{ not json").unwrap();
    let o = run(&["--resume"], &b);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("run-0.json: corrupt or truncated checkpoint"),
        "{}",
        text(&o.stderr)
    );
}

/// A run that fails while the others pause reports its failure, not their pause (which had
/// come first, by run order, and sent the user to a `--resume` that failed again).
#[test]
fn a_failed_run_is_reported_before_the_others_pause() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let evolve = |extra: &[&str]| {
        let mut args = vec![
            "evolve",
            "scenarios/image_scoring_evolution.toml",
            "--runs",
            "2",
            "--threads",
            "1",
            "--out",
            out,
        ];
        args.extend(extra);
        socium(&args)
    };
    let o = evolve(&["--pause-at", "10"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::write(dir.path().join("checkpoints/run-1.json"), "{ not json").unwrap();
    let o = evolve(&["--resume", "--pause-at", "20"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("run-1.json: corrupt or truncated checkpoint"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn policies_run_from_the_cli_and_a_missing_runtime_is_one_clear_error() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("onnx");
    let o = socium(&[
        "run",
        "scenarios/ipd_onnx.toml",
        "--episodes",
        "7",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("tft (onnx) ┆ tft_linear.onnx"));

    let o = socium(&[
        "--onnxruntime",
        "/nonexistent/libonnxruntime.so",
        "validate",
        "scenarios/ipd_onnx.toml",
    ]);
    assert!(!o.status.success());
    let stderr = text(&o.stderr);
    assert!(
        stderr.starts_with(
            "error: --onnxruntime: the ONNX Runtime library was not found (looked at: \
             /nonexistent/libonnxruntime.so); install it with `pip install onnxruntime==1.31.1`"
        ),
        "{stderr}"
    );
}

/// `--onnxruntime` is offered where it is given, before the command, and not in the help of a
/// command that loads no policy.
#[test]
fn the_onnxruntime_flag_is_the_programs_not_every_commands() {
    let help = |args: &[&str]| text(&socium(args).stdout);
    assert!(help(&["--help"]).contains("--onnxruntime <LIBRARY>"));
    for command in ["replay", "view", "list", "run", "bench"] {
        let said = help(&[command, "--help"]);
        assert!(said.contains("Usage: socium"), "{said}");
        assert!(!said.contains("--onnxruntime"), "{command}: {said}");
    }
}

#[test]
fn replay_prints_an_episode_step_by_step() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("ww");
    let o = socium(&[
        "run",
        "scenarios/werewolf.toml",
        "--episodes",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = socium(&["replay", dir.to_str().unwrap(), "--episode", "2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let replay = text(&o.stdout);
    // The episode's first line names each player's role: 2 werewolves among 8.
    assert!(
        replay.starts_with("episode 2\nstep 0\n  roles: agent 0 "),
        "{replay}"
    );
    let roles = replay.lines().nth(2).unwrap();
    assert_eq!(roles.matches(" mafia").count(), 2, "{roles}");
    assert_eq!(roles.matches(", agent ").count(), 7, "{roles}");
    assert!(replay.lines().nth(3).unwrap().starts_with("  agent "));
    assert!(replay.contains(" votes to lynch agent "), "{replay}");
    // The game's end names every player's win or loss on the deciding reveal, the last reveal
    // (only the citizens' private belief statements come after it).
    let reveal = replay
        .lines()
        .rev()
        .find(|l| l.contains("they were"))
        .unwrap();
    assert!(reveal.contains("win "), "{reveal}");
    let after: Vec<&str> = replay
        .lines()
        .skip_while(|l| *l != reveal)
        .skip(1)
        .collect();
    assert!(
        after.iter().all(|l| l.contains("now gives the mafia")),
        "{after:?}"
    );
    let o = socium(&["replay", dir.to_str().unwrap(), "--episode", "3"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("no episode 3 (the transcript has 3 episodes, 0 to 2)"),
        "{}",
        text(&o.stderr)
    );
    // Among Us: a message's listening and speaking rewards settle at the next step, under the
    // message's own words.
    let dir = out.path().join("au");
    let o = socium(&[
        "run",
        "scenarios/among_us.toml",
        "--episodes",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = socium(&["replay", dir.to_str().unwrap(), "--episode", "0"]);
    let replay = text(&o.stdout);
    let lines: Vec<&str> = replay.lines().collect();
    let said = lines
        .iter()
        .position(|l| l.starts_with("  agent ") && l.contains(": \""))
        .expect("a message");
    let step_of = |heading: &str| heading["step ".len()..].parse::<u32>().unwrap();
    let heading = lines[..said].iter().rev().find(|l| l.starts_with("step "));
    // The listeners' belief statements (`believe`) may follow the message within its step.
    let next = said
        + lines[said..]
            .iter()
            .position(|l| l.starts_with("step "))
            .unwrap();
    assert_eq!(step_of(lines[next]), step_of(heading.unwrap()) + 1);
    let settles = format!("  settles {}    [speaking ", lines[said].trim_start());
    let step_lines = lines[next + 1..]
        .iter()
        .take_while(|l| !l.starts_with("step "));
    let settled: Vec<&&str> = step_lines.filter(|l| l.starts_with(&settles)).collect();
    assert_eq!(settled.len(), 1, "{replay}");
    assert!(settled[0].contains("listening "), "{replay}");
}

/// `socium bench setup` reports the agents, the steps played and the three phases' times, as
/// JSON with `--json` and in words without (only the times' presence and sign are checked:
/// speed is for benchmarks).
#[test]
fn bench_setup_times_reading_building_and_playing_apart() {
    let args = [
        "bench",
        "setup",
        "scenarios/leading_eight.toml",
        "--set",
        "agents[0].count=30",
        "--set",
        "episodes=2",
    ];
    let o = socium(&[&args[..], &["--json"]].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // 30 + 10 agents; two episodes of the scenario's 100 rounds.
    assert_eq!(report["agents"], 40);
    assert_eq!(report["steps"], 200);
    for phase in ["load_seconds", "build_seconds", "play_seconds"] {
        assert!(report[phase].as_f64().unwrap() >= 0.0, "{report}");
    }
    let o = socium(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = text(&o.stdout);
    assert!(said.starts_with("Leading eight"), "{said}");
    for part in [
        "(40 agents): set-up ",
        "(reading ",
        "building the Sim ",
        "then 200 steps in ",
    ] {
        assert!(said.contains(part), "{part:?} missing from {said}");
    }
}

/// Output to a reader that has gone (`socium list | head -1`) ends the program quietly with
/// success, where `println!` panics. The reader goes before the program writes, most likely;
/// where it does not, the program writes into the pipe and succeeds all the same.
#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_socium"))
        .arg("list")
        .current_dir(workspace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the socium binary runs");
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
}

/// A bench refuses a zero count of steps, repeats or envs rather than timing something else.
#[test]
fn bench_counts_of_zero_are_refused() {
    for args in [
        &[
            "bench",
            "vecenv",
            "scenarios/leading_eight.toml",
            "--steps",
            "0",
        ][..],
        &[
            "bench",
            "scenario",
            "scenarios/leading_eight.toml",
            "--repeats",
            "0",
        ],
        &["bench", "policy", "--envs", "0"],
        &["bench", "evolve", "--repeats", "0"],
    ] {
        let o = socium(args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o.stderr).contains("invalid value '0'"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
}

/// `socium --version` names the command, not its crate.
#[test]
fn the_version_names_the_command() {
    let o = socium(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stdout).trim(),
        format!("socium {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `socium bench evolve` without a scenario runs the repository's, from any folder (it looked for
/// benches/moran_tft_alld.toml in the folder it ran in).
#[test]
fn a_bench_default_scenario_is_found_from_any_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_socium"))
        .args(["bench", "evolve", "--repeats", "1", "--generations", "3"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Moran process"),
        "{}",
        text(&o.stdout)
    );
}

/// A bench of a scenario with external agents is refused: nothing would act for them.
#[test]
fn bench_refuses_external_agents() {
    for bench in ["vecenv", "scenario"] {
        let o = socium(&["bench", bench, "scenarios/donor_learner.toml"]);
        assert!(!o.status.success(), "{bench}");
        assert!(
            text(&o.stderr).contains(
                "scenarios/donor_learner.toml: benchmarks need no external agents: every agent \
                 scripted, random or a policy"
            ),
            "{bench}: {}",
            text(&o.stderr)
        );
    }
}

/// `socium bench vecenv` times every pair of listed env and thread counts in rounds: a JSON line
/// each, a smaller count taking proportionally more steps, each count against the first with as
/// many threads, keeping records only with `--records` (only counts, settings and the first ratio
/// are checked: speed is for benchmarks).
#[test]
fn bench_vecenv_times_every_listed_setting() {
    let run = |envs: &str, more: &[&str]| {
        let args = [
            "bench",
            "vecenv",
            "scenarios/leading_eight.toml",
            "--set",
            "agents[0].count=10",
            "--envs",
            envs,
            "--threads",
            "1,2",
            "--steps",
            "3",
            "--repeats",
            "2",
            "--json",
        ];
        socium(&[&args[..], more].concat())
    };
    let json_lines = |o: &std::process::Output| -> Vec<serde_json::Value> {
        assert!(o.status.success(), "{}", text(&o.stderr));
        (text(&o.stdout).lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let reports = json_lines(&run("2,4", &[]));
    let setting =
        |r: &serde_json::Value| ["threads", "envs", "steps"].map(|k| r[k].as_u64().unwrap());
    assert_eq!(
        reports.iter().map(setting).collect::<Vec<_>>(),
        [[1, 2, 6], [1, 4, 3], [2, 2, 6], [2, 4, 3]]
    );
    for r in &reports {
        // 20 agents on a small world: every one has a neighbour and acts at every step.
        let envs = r["envs"].as_u64().unwrap();
        assert_eq!(
            r["decisions_per_repeat"].as_u64(),
            Some(20 * envs * r["steps"].as_u64().unwrap())
        );
        assert_eq!(r["seconds"].as_array().unwrap().len(), 2, "{r}");
        // Nothing reads the norms game's records in a benchmark.
        assert_eq!(r["records"], false, "{r}");
    }
    assert_eq!(reports[0]["vs_first_envs"], 1.0);
    assert_eq!(reports[2]["vs_first_envs"], 1.0);
    for r in json_lines(&run("2", &["--records"])) {
        assert_eq!(r["records"], true, "{r}");
    }
    let o = run("2,0", &[]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("at least 1, not 0"),
        "{}",
        text(&o.stderr)
    );
}

/// `socium bench scenario` takes `--set`, and counts the steps and decisions it played apart from
/// those a deterministic tournament repeats (only counts are checked: speed is for benchmarks).
#[test]
fn bench_scenario_takes_overrides_and_counts_played_and_repeated() {
    let bench = |set: &str| {
        socium(&[
            "bench",
            "scenario",
            "scenarios/ipd_tournament.toml",
            "--repeats",
            "1",
            "--json",
            "--set",
            set,
        ])
    };
    let o = bench("game.repeated.matches=at_once");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // 10 repetitions of one 200-step episode; 28 matches, 56 moves a step; one episode played.
    let count = |key: &str| report[key].as_u64().unwrap();
    assert_eq!(
        [
            "episodes",
            "steps",
            "played_steps",
            "decisions",
            "played_decisions"
        ]
        .map(count),
        [10, 2000, 200, 112_000, 11_200]
    );
    let o = bench("game.repeated.matches=sideways");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains(
            "`game.repeated.matches`: unknown variant `sideways`, expected `by_round` or `at_once`"
        ),
        "{}",
        text(&o.stderr)
    );
}

/// `socium bench policy` times models with every input a policy may take: the recorded batches
/// carry each row's action mask and recurrent state where the model reads them, which the
/// ort-alone passes feed (only the runs and their counts are checked).
#[test]
fn bench_policy_times_models_that_read_masks_and_states() {
    let dir = tempfile::tempdir().unwrap();
    let masked = dir.path().join("masked.toml");
    std::fs::write(
        &masked,
        "[scenario]\nname = \"masked\"\n[game.donor_cultural]\npunishment = true\n\
         refusal = true\n[[agents]]\nstrategy = \"fixed\"\ncount = 12\n",
    )
    .unwrap();
    for (scenario, model, rows) in [
        (
            "scenarios/ipd_tournament.toml",
            "grudger_recurrent.onnx",
            8 * 8 * 4,
        ),
        (masked.to_str().unwrap(), "donor_mlp.onnx", 0),
    ] {
        let model = format!("assets/policies/{model}");
        let o = socium(&[
            "bench",
            "policy",
            scenario,
            "--model",
            &model,
            "--envs",
            "8",
            "--steps",
            "4",
            "--repeats",
            "1",
            "--json",
        ]);
        assert!(o.status.success(), "{model}: {}", text(&o.stderr));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(report["forward_passes"], 4, "{report}");
        if rows > 0 {
            assert_eq!(report["rows"], rows, "{report}");
        }
    }
}
