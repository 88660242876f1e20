//! `[output] graph`: `socium run` measures the social graph after every episode (`metrics.csv`,
//! `summary.json`) and writes its final state to `graph.edges`, which reads back as the same
//! graph; a complete graph too large to write is refused at the key.

use socium::core::{GraphStats, parse_edge_list};
use socium::scenario::{Scenario, run};
use std::path::Path;

#[test]
fn a_run_measures_its_graph_and_writes_it_back_readable() {
    let text = "[scenario]\nname = \"g\"\nseed = 4\nepisodes = 2\n[game.punishment]\nrounds = 3\n\
                [graph]\nwatts_strogatz = { k = 4, p = 0.3 }\n[output]\ngraph = true\n\
                [[agents]]\nstrategy = \"punisher\"\ncount = 10\n[[agents]]\nstrategy = \"alld\"\ncount = 10\n";
    let s = Scenario::parse(text, Path::new("g.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run(&s, dir.path(), |_| {}).unwrap();
    let sim = s.sim().unwrap();
    let agents = sim.env().agents();
    let labels: Vec<&str> = agents.ids().map(|a| agents.label(a)).collect();
    let expected = GraphStats::of(sim.env().graph(), &labels);
    assert_eq!(summary.graph.as_ref(), Some(&expected));
    assert_eq!(
        expected.mean_degree, 4.0,
        "rewiring keeps the number of ties"
    );
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert!(header.ends_with(&[
        "mean_degree",
        "max_degree",
        "clustering",
        "components",
        "label_assortativity"
    ]));
    assert_eq!(csv.lines().count(), 3);
    let edges = std::fs::read_to_string(dir.path().join("graph.edges")).unwrap();
    let read = parse_edge_list(&edges, 20).unwrap();
    assert_eq!(read.len(), 40);
    for e in &read {
        assert!(
            sim.env().graph().tie(e.a, e.b).is_some(),
            "{e:?} is not a tie"
        );
    }
}

#[test]
fn a_complete_graph_too_large_to_write_is_refused() {
    let text = "[scenario]\nname = \"g\"\n[game.opinion]\n[output]\ngraph = true\n\
                [[agents]]\nstrategy = \"sincere\"\ncount = 5000\n";
    let err = Scenario::parse(text, Path::new("g.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`output.graph`") && err.contains("12497500 ties"),
        "{err}"
    );
}

#[test]
fn a_seeded_reset_redraws_the_graph_and_an_unseeded_one_keeps_it() {
    let text = "[scenario]\nname = \"g\"\nseed = 4\n[game.repeated]\n[graph]\n\
                erdos_renyi = { p = 0.3 }\n[[agents]]\nstrategy = \"tft\"\ncount = 20\n";
    let mut sim = Scenario::parse(text, Path::new("g.toml"))
        .unwrap()
        .sim()
        .unwrap();
    let edges = |sim: &socium::core::Sim| socium::core::edge_list(sim.env().graph());
    sim.reset(Some(5));
    let five = edges(&sim);
    sim.reset(None);
    assert_eq!(edges(&sim), five, "an unseeded reset keeps the graph");
    sim.reset(Some(6));
    assert_ne!(edges(&sim), five, "another seed, another graph");
    sim.reset(Some(5));
    assert_eq!(edges(&sim), five, "the same seed, the same graph");
}
