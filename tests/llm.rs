//! Language-model agents against a scripted test server on 127.0.0.1 (port 0): good answers,
//! garbage, JSON of the wrong shape, timeouts, server errors, refusals and closed ports each give
//! the documented outcome; failed requests wait before the next (the server's `Retry-After`, or a
//! doubling wait); requests overlap; a cached run replays with no server, its faults too.

use serde_json::{Value, json};
use socium::core::{AgentId, StepError, TranscriptLine, VecEnv};
use socium::scenario::{RunError, Scenario, run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::{Duration, Instant};

/// What the test server does with the `n`-th request (0-based).
#[derive(Clone)]
enum Reply {
    /// A chat completion whose content is this text.
    Content(String),
    /// A legal answer made from the request's schema (its first legal act).
    Legal,
    /// A judge's evaluation in Sotopia's format: 1 on every dimension for agent 0, 2 for the
    /// others (the request's user message names the agent).
    Judge,
    /// Attribution ratings: 3 on every dimension for the agent's first utterance the request
    /// names, 0 for the others.
    Rate,
    /// This HTTP status, with a body.
    Status(u16),
    /// HTTP 429, asking the client to wait this many seconds (`Retry-After`).
    Busy(u64),
    /// Wait, then reply.
    Wait(Duration, Box<Reply>),
}

/// A server's script: HTTP 500 to the first request, a legal answer to every other.
fn first_fails(n: usize) -> Reply {
    if n == 0 {
        Reply::Status(500)
    } else {
        Reply::Legal
    }
}

/// A scripted chat-completions server; it counts requests and how many were in flight at most.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<Value>>>,
    /// When each request arrived, in order.
    arrivals: Arc<Mutex<Vec<Instant>>>,
    max_in_flight: Arc<AtomicUsize>,
}

fn serve(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (in_flight, max_in_flight) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let script = Arc::new(script);
    let (seen, when, most) = (requests.clone(), arrivals.clone(), max_in_flight.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (seen, when, script, in_flight, most) = (
                seen.clone(),
                when.clone(),
                script.clone(),
                in_flight.clone(),
                most.clone(),
            );
            std::thread::spawn(move || {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                answer(stream, &seen, &when, &*script);
                in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Server {
        url,
        requests,
        arrivals,
        max_in_flight,
    }
}

fn answer(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Value>>,
    when: &Mutex<Vec<Instant>>,
    script: &dyn Fn(usize) -> Reply,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    let n = {
        let mut seen = seen.lock().unwrap();
        seen.push(request.clone());
        when.lock().unwrap().push(Instant::now());
        seen.len() - 1
    };
    let mut reply = script(n);
    while let Reply::Wait(d, then) = reply {
        std::thread::sleep(d);
        reply = *then;
    }
    let mut head = String::new();
    let (status, body) = match reply {
        Reply::Content(text) => (200, completion(&text)),
        Reply::Legal => (200, completion(&legal_answer(&request).to_string())),
        Reply::Judge => (200, completion(&evaluation(&request).to_string())),
        Reply::Rate => (200, completion(&ratings(&request).to_string())),
        Reply::Status(s) => (
            s,
            json!({"error": {"message": "scripted failure"}}).to_string(),
        ),
        Reply::Busy(seconds) => {
            head = format!("Retry-After: {seconds}\r\n");
            (429, json!({"error": {"message": "busy"}}).to_string())
        }
        Reply::Wait(..) => unreachable!(),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn completion(content: &str) -> String {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
        .to_string()
}

/// The first legal answer the request's schema allows, with a word to say.
fn legal_answer(request: &Value) -> Value {
    let schema = &request["response_format"]["json_schema"]["schema"]["properties"];
    let mut answer = serde_json::Map::new();
    for (key, s) in schema.as_object().unwrap() {
        let v = match key.as_str() {
            "act" => s["enum"][0].clone(),
            "amount" => {
                json!((s["minimum"].as_f64().unwrap() + s["maximum"].as_f64().unwrap()) / 2.0)
            }
            "say" => json!("hello"),
            other => panic!("unexpected key {other}"),
        };
        answer.insert(key.clone(), v);
    }
    Value::Object(answer)
}

/// Every dimension the request's schema asks for, scored 1 for agent 0 and 2 for the others
/// (negated on the two negotiation dimensions whose range is -10..0).
fn evaluation(request: &Value) -> Value {
    let user = request["messages"][1]["content"].as_str().unwrap();
    let score = if user.ends_with("Evaluate agent 0 (fair).") {
        1.0
    } else {
        2.0
    };
    let schema = &request["response_format"]["json_schema"]["schema"]["properties"];
    let object: serde_json::Map<String, Value> = schema
        .as_object()
        .unwrap()
        .keys()
        .map(|d| {
            // Within each negotiation dimension's range: these two are -10..0.
            let score = match d.as_str() {
                "secret" | "social_rules" => -score,
                _ => score,
            };
            (d.clone(), json!({"reasoning": "scripted", "score": score}))
        })
        .collect();
    Value::Object(object)
}

/// 3 for the first utterance the request's schema names (on every dimension), 0 for the rest.
fn ratings(request: &Value) -> Value {
    let schema = &request["response_format"]["json_schema"]["schema"];
    let keys = schema["required"].as_array().unwrap();
    let object: serde_json::Map<String, Value> = (keys.iter().enumerate())
        .map(|(i, key)| {
            let key = key.as_str().unwrap();
            let dims = schema["properties"][key]["required"].as_array().unwrap();
            let rating = if i == 0 { 3 } else { 0 };
            let rated = dims
                .iter()
                .map(|d| (d.as_str().unwrap().to_owned(), json!(rating)));
            (key.to_owned(), Value::Object(rated.collect()))
        })
        .collect();
    Value::Object(object)
}

/// A negotiation between a language model (agent 0, with free text) and a fair negotiator.
fn negotiation(url: &str, extra: &str) -> String {
    format!(
        "[scenario]\nname = \"llm\"\nseed = 3\nepisodes = 2\n\
         [game.negotiation]\nfree_text = 40\nmax_turns = 6\n\
         [[agents]]\ncontroller = {{ llm = {{ base_url = \"{url}\", model = \"test\", {extra} }} }}\nlabel = \"model\"\n\
         [[agents]]\nstrategy = \"fair\"\n"
    )
}

fn scenario_in(dir: &Path, text: &str) -> Scenario {
    Scenario::parse(text, &dir.join("llm.toml")).unwrap()
}

/// Plays the scenario; returns the summary's faults of the model's group and every transcript
/// line, parsed.
fn run_it(s: &Scenario, dir: &Path) -> (u64, Vec<String>) {
    let out = dir.join("out");
    let summary = run(s, &out, |_| {}).unwrap();
    let transcript = std::fs::read_to_string(out.join("transcript.jsonl")).unwrap();
    (
        summary.groups[0].faults,
        transcript.lines().map(str::to_owned).collect(),
    )
}

fn faults_and_model_acts(lines: &[String]) -> (usize, usize) {
    let mut faults = 0;
    let mut acts = 0;
    for line in lines {
        match serde_json::from_str::<TranscriptLine>(line).unwrap() {
            TranscriptLine::Fault { agent, .. } => {
                assert_eq!(agent, AgentId(0));
                faults += 1;
            }
            TranscriptLine::Made {
                speaker: AgentId(0),
                ..
            } => acts += 1,
            _ => {}
        }
    }
    (faults, acts)
}

#[test]
fn good_answers_are_played_and_their_words_said() {
    let server = serve(|_| Reply::Legal);
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &negotiation(&server.url, "retries = 1"));
    let (faults, lines) = run_it(&s, dir.path());
    let (fault_lines, acts) = faults_and_model_acts(&lines);
    assert_eq!((faults, fault_lines), (0, 0));
    assert!(acts > 0);
    assert_eq!(
        server.requests.lock().unwrap().len(),
        acts,
        "one request per decision"
    );
    // The words the model gave are the utterance's text.
    let said = lines
        .iter()
        .filter(|l| l.contains("\"speaker\":0") && l.contains("\"text\":\"hello\""))
        .count();
    assert_eq!(said, acts);
    // Each request carries the seed, the schema of legal acts and the prompt in words.
    let first = server.requests.lock().unwrap()[0].clone();
    assert!(first["seed"].is_u64());
    assert!(
        first["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("Your goal")
    );
    assert!(
        first["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains("Your legal acts")
    );
}

#[test]
fn unusable_answers_are_retried_with_the_error_then_counted_as_faults() {
    for (name, content) in [
        ("garbage", "I think I will offer something nice."),
        ("wrong shape", "{\"move\": \"offer\"}"),
        // Act 13 tells fact 2, and agent 0's profile (the first bundled one) has two facts.
        ("illegal act", "{\"act\": 13, \"say\": \"\"}"),
    ] {
        let server = serve(move |_| Reply::Content(content.to_owned()));
        let dir = tempfile::tempdir().unwrap();
        let s = scenario_in(dir.path(), &negotiation(&server.url, "retries = 2"));
        let (faults, lines) = run_it(&s, dir.path());
        let (fault_lines, acts) = faults_and_model_acts(&lines);
        assert!(acts > 0, "{name}");
        assert_eq!(faults as usize, acts, "{name}: every decision is a fault");
        assert_eq!(fault_lines, acts, "{name}: a transcript line for each");
        let requests = server.requests.lock().unwrap();
        assert_eq!(
            requests.len(),
            3 * acts,
            "{name}: 1 + 2 retries per decision"
        );
        // The retry shows the model its answer and what is wrong with it.
        let retry = &requests[1]["messages"];
        assert_eq!(retry[2]["content"], content, "{name}");
        assert!(
            retry[3]["content"]
                .as_str()
                .unwrap()
                .contains("cannot be used"),
            "{name}"
        );
        // The default act: pass.
        let passes = lines
            .iter()
            .filter(|l| l.contains("\"speaker\":0") && l.contains("\"kind\":\"pass\""))
            .count();
        assert_eq!(passes, acts, "{name}");
    }
}

#[test]
fn a_good_answer_after_a_bad_one_is_no_fault() {
    let server = serve(|n| match n % 2 {
        0 => Reply::Content("not json".into()),
        _ => Reply::Legal,
    });
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &negotiation(&server.url, "retries = 1"));
    let (faults, lines) = run_it(&s, dir.path());
    let (_, acts) = faults_and_model_acts(&lines);
    assert_eq!(faults, 0);
    assert_eq!(server.requests.lock().unwrap().len(), 2 * acts);
}

#[test]
fn timeouts_and_server_errors_are_retried_then_counted() {
    let slow = serve(|_| Reply::Wait(Duration::from_millis(800), Box::new(Reply::Legal)));
    let failing = serve(|_| Reply::Status(500));
    for (name, url, needle) in [
        ("timeout", slow.url.clone(), "imeout"),
        ("HTTP 500", failing.url.clone(), "HTTP 500"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let s = scenario_in(
            dir.path(),
            &negotiation(&url, "retries = 1, timeout_s = 0.3, retry_wait_s = 0"),
        );
        let (faults, lines) = run_it(&s, dir.path());
        let (fault_lines, acts) = faults_and_model_acts(&lines);
        assert!(
            acts > 0 && faults as usize == acts && fault_lines == acts,
            "{name}"
        );
        let fault = lines.iter().find(|l| l.contains("\"fault\"")).unwrap();
        assert!(
            fault.contains("2 attempts") && fault.contains(needle),
            "{name}: {fault}"
        );
    }
    assert_eq!(failing.requests.lock().unwrap().len() % 2, 0);
}

#[test]
fn a_refusal_stops_the_run_with_the_servers_message() {
    let server = serve(|_| Reply::Status(404));
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &negotiation(&server.url, "retries = 3"));
    match run(&s, &dir.path().join("out"), |_| {}) {
        Err(RunError::Step {
            error: StepError::PolicyFailed { policy, message },
            ..
        }) => {
            assert!(policy.contains("llm test@"), "{policy}");
            assert!(message.contains("HTTP 404"), "{message}");
        }
        other => panic!("expected the step to fail, got {other:?}"),
    }
    assert_eq!(
        server.requests.lock().unwrap().len(),
        1,
        "a refusal is not retried"
    );
    assert!(!dir.path().join("out").exists(), "nothing half-written");
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/v1", l.local_addr().unwrap())
}

/// No server where `base_url` points, from the run's first request on: the run stops at the
/// first decision whose attempts all found nothing there, with nothing written — every act of
/// the run would otherwise be the default act, in a run that looks like any other — and its
/// cache keeps no failure of it, which would fault the next run's request once a server
/// listens.
#[test]
fn a_server_never_reached_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(
        dir.path(),
        &negotiation(
            &closed_port(),
            "retries = 1, retry_wait_s = 0, cache = \"answers.jsonl\"",
        ),
    );
    match run(&s, &dir.path().join("runs/out"), |_| {}) {
        Err(RunError::Step {
            error: StepError::PolicyFailed { message, .. },
            ..
        }) => assert!(
            message.contains("2 attempts; no server has answered there in this run")
                && message.contains("127.0.0.1"),
            "{message}"
        ),
        other => panic!("expected the step to fail, got {other:?}"),
    }
    assert!(
        !dir.path().join("runs").exists(),
        "nothing half-written: no folder made, parents included"
    );
    let cached = std::fs::read_to_string(dir.path().join("answers.jsonl")).unwrap_or_default();
    assert_eq!(cached, "", "no failure recorded");
}

/// A server that answered and then went away: its later decisions are faults, each played as the
/// default act, and the run goes on (a server restarting mid-run loses some decisions, not the
/// run).
#[test]
fn a_server_gone_after_answering_gives_faults() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let answered = 2;
    let server = std::thread::spawn(move || {
        let (seen, when) = (Mutex::new(Vec::new()), Mutex::new(Vec::new()));
        for stream in listener.incoming().take(answered) {
            answer(stream.unwrap(), &seen, &when, &|_| Reply::Legal);
        }
        // The listener closes here: later connections are refused.
    });
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(
        dir.path(),
        &negotiation(&url, "retries = 1, retry_wait_s = 0"),
    );
    let out = dir.path().join("out");
    let done = std::thread::spawn(move || {
        let summary = run(&s, &out, |_| {});
        (summary, out)
    });
    server.join().unwrap();
    let (summary, out) = done.join().unwrap();
    let summary = summary.unwrap();
    let transcript = std::fs::read_to_string(out.join("transcript.jsonl")).unwrap();
    let lines: Vec<String> = transcript.lines().map(str::to_owned).collect();
    let (fault_lines, acts) = faults_and_model_acts(&lines);
    assert_eq!(
        acts - fault_lines,
        answered,
        "the answered decisions are played"
    );
    assert!(fault_lines > 0 && summary.groups[0].faults as usize == fault_lines);
}

/// A `base_url` that no request could reach is refused at load, naming the key.
#[test]
fn a_base_url_that_is_not_an_http_url_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["not a url", "ftp://127.0.0.1/v1", "127.0.0.1:8080/v1"] {
        let text = negotiation(url, "");
        let err = Scenario::parse(&text, &dir.path().join("llm.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("llm.toml:") && err.contains(&format!("`base_url`: `{url}`")),
            "{url}: {err}"
        );
    }
}

#[test]
fn a_missing_key_variable_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = negotiation(
        "http://127.0.0.1:9/v1",
        "api_key_env = \"SOCIUM_TEST_NO_SUCH_KEY\"",
    );
    let err = Scenario::parse(&text, &dir.path().join("llm.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SOCIUM_TEST_NO_SUCH_KEY") && err.contains("llm.toml:"),
        "{err}"
    );
}

/// A timeout too long for a `Duration` is refused at load, naming the key, where it panicked.
#[test]
fn a_timeout_beyond_any_duration_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = negotiation("http://127.0.0.1:9/v1", "timeout_s = 1e30");
    let err = Scenario::parse(&text, &dir.path().join("llm.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`timeout_s`: 1e30 seconds is more than a duration can hold"),
        "{err}"
    );
}

/// The distinct rows (agent, observation, mask) of the acting agents of `env` (`agents` per env)
/// among `agents_of`: the requests a step asks, rows in the same state asking once.
fn distinct_rows(env: &VecEnv, agents: usize, agents_of: std::ops::Range<usize>) -> usize {
    let out = env.outputs();
    let (od, md) = (
        out.obs.len() / out.acting.len(),
        out.masks.len() / out.acting.len(),
    );
    let mut seen = std::collections::HashSet::new();
    for (row, &acting) in out.acting.iter().enumerate() {
        if acting && agents_of.contains(&(row % agents)) {
            let obs: Vec<u32> = out.obs[row * od..(row + 1) * od]
                .iter()
                .map(|x| x.to_bits())
                .collect();
            let mask = out.masks[row * md..(row + 1) * md].to_vec();
            seen.insert((row % agents, obs, mask));
        }
    }
    seen.len()
}

/// Negotiations of 8 language-model agents (4 pairs) in each of 16 envs: every pair draws its
/// own goods, so the 64 first speakers are in 64 different states.
fn negotiating(url: &str, groups: &[&str]) -> (Scenario, VecEnv) {
    let mut text = "[scenario]\nname = \"c\"\n[game.negotiation]\n".to_owned();
    for model in groups {
        text += &format!(
            "[[agents]]\ncount = {}\ncontroller = {{ llm = {{ base_url = \"{url}\", model = \"{model}\", \
             max_in_flight = 64 }} }}\n",
            8 / groups.len()
        );
    }
    let s = Scenario::parse(&text, Path::new("c.toml")).unwrap();
    let seeds = VecEnv::seeds(5, 16);
    let mut env = VecEnv::new(&*s.game, &s.config, &seeds).unwrap();
    env.reset(Some(&seeds)).unwrap();
    (s, env)
}

/// 64 language-model agents acting at once across 16 envs, against a server that takes 200 ms
/// an answer: their requests overlap (the server sees dozens in flight), not one after another.
#[test]
fn requests_of_one_step_overlap_across_envs() {
    let server = serve(|_| Reply::Wait(Duration::from_millis(200), Box::new(Reply::Legal)));
    let (s, mut env) = negotiating(&server.url, &["test"]);
    let acting = env.outputs().acting.iter().filter(|&&a| a).count();
    assert_eq!(acting, 64, "4 first speakers in each of 16 envs");
    let distinct = distinct_rows(&env, 8, 0..8);
    assert!(distinct > 60, "{distinct} distinct states");
    let actions = vec![0.0; 16 * 8 * s.game.action_space(8).flat_dim()];
    env.step(&actions).unwrap();
    assert_eq!(server.requests.lock().unwrap().len(), distinct);
    let most = server.max_in_flight.load(Ordering::SeqCst);
    assert!(
        (32..=64).contains(&most),
        "{most} requests in flight at most"
    );
}

/// Two groups of language-model agents on two endpoints ask at once, not one group after the
/// other: the server sees more requests in flight than either group makes (a comparison of two
/// models costs a step its slowest answer, not the sum).
#[test]
fn the_requests_of_two_models_overlap() {
    let server = serve(|_| Reply::Wait(Duration::from_millis(200), Box::new(Reply::Legal)));
    let (s, mut env) = negotiating(&server.url, &["a", "b"]);
    let larger = distinct_rows(&env, 8, 0..4).max(distinct_rows(&env, 8, 4..8));
    let actions = vec![0.0; 16 * 8 * s.game.action_space(8).flat_dim()];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    pool.install(|| env.step(&actions)).unwrap();
    let most = server.max_in_flight.load(Ordering::SeqCst);
    assert!(
        most > larger,
        "{most} in flight at most, a group makes {larger}"
    );
}

/// Envs in the same state make the same request, which is asked once and decided alike for all
/// of them: at the first step of the cultural donor game 16 envs hold 8 states (one an agent),
/// so 8 requests; and when a request fails (no retries), every env in its state plays the
/// default act with the fault, not whichever asked first.
#[test]
fn envs_in_the_same_state_ask_once_and_get_the_same_decision() {
    let server = serve(first_fails);
    let text = format!(
        "[scenario]\nname = \"c\"\n[game.donor_cultural]\n\
         [[agents]]\ncount = 8\ncontroller = {{ llm = {{ base_url = \"{}\", model = \"test\", \
         retries = 0 }} }}\n",
        server.url
    );
    let s = Scenario::parse(&text, Path::new("c.toml")).unwrap();
    let seeds = VecEnv::seeds(5, 16);
    let mut env = VecEnv::new(&*s.game, &s.config, &seeds).unwrap();
    env.reset(Some(&seeds)).unwrap();
    let rows: Vec<usize> = (0..16 * 8).filter(|&r| env.outputs().acting[r]).collect();
    let distinct = distinct_rows(&env, 8, 0..8);
    assert!(
        distinct < rows.len(),
        "{distinct} states for {} rows",
        rows.len()
    );
    let actions = vec![0.0; 16 * 8 * s.game.action_space(8).flat_dim()];
    env.step(&actions).unwrap();
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), distinct);
    // The failed request was asked once; every env in its state faulted, and no other did.
    let failed = &requests[0];
    assert!(requests[1..].iter().all(|q| q != failed), "asked again");
    let faulted: Vec<usize> = (rows.iter().copied())
        .filter(|&r| {
            env.env(r / 8)
                .faults()
                .current()
                .iter()
                .any(|f| f.0.index() == r % 8)
        })
        .collect();
    let row_of = |r: usize| {
        let out = env.outputs();
        let od = out.obs.len() / (16 * 8);
        (r % 8, out.obs[r * od..(r + 1) * od].to_vec())
    };
    assert!(!faulted.is_empty());
    let state = row_of(faulted[0]);
    for &r in &rows {
        assert_eq!(faulted.contains(&r), row_of(r) == state, "row {r}");
    }
}

/// A run that recorded its answers in a cache replays byte for byte with no server: the same
/// scenario asks nothing of the server the second time, and its faults (every attempt failed:
/// HTTP 500 twice) come back as they were, with the same messages.
#[test]
fn a_cached_run_replays_byte_for_byte_without_a_server() {
    // Decisions alternate: two failures (a fault), then an unusable answer and a legal one.
    let server = serve(|n| match n % 4 {
        0 | 1 => Reply::Status(500),
        2 => Reply::Content("no".into()),
        _ => Reply::Legal,
    });
    let dir = tempfile::tempdir().unwrap();
    let text = negotiation(
        &server.url,
        "cache = \"answers.jsonl\", retries = 1, retry_wait_s = 0",
    );
    let out = |name: &str| dir.path().join(name);
    run(&scenario_in(dir.path(), &text), &out("recorded"), |_| {}).unwrap();
    let asked = server.requests.lock().unwrap().len();
    let transcript = std::fs::read_to_string(out("recorded").join("transcript.jsonl")).unwrap();
    assert!(asked > 4 && transcript.contains("HTTP 500"), "{transcript}");
    run(&scenario_in(dir.path(), &text), &out("replayed"), |_| {}).unwrap();
    assert_eq!(
        server.requests.lock().unwrap().len(),
        asked,
        "the replay asked the server"
    );
    for file in ["transcript.jsonl", "metrics.csv", "summary.json"] {
        let a = std::fs::read(out("recorded").join(file)).unwrap();
        let b = std::fs::read(out("replayed").join(file)).unwrap();
        assert!(a == b, "{file} differs");
    }
}

/// With `memory = 1`, an agent's request repeats its latest turn of the episode (what it was told
/// and what it answered) before the new user message, and not the ones before it (the model
/// speaks three times an episode); each episode starts with none.
#[test]
fn an_agent_remembers_its_latest_turns_of_the_episode() {
    let server = serve(|_| Reply::Legal);
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &negotiation(&server.url, "memory = 1"));
    run_it(&s, dir.path());
    let requests = server.requests.lock().unwrap();
    let messages = |k: usize| requests[k]["messages"].as_array().unwrap().clone();
    let (mut fresh, mut one_turn) = (0, 0);
    for k in 0..requests.len() {
        let m = messages(k);
        if m.len() == 2 {
            fresh += 1;
            continue;
        }
        assert_eq!(m.len(), 4, "request {k}: one turn remembered");
        one_turn += 1;
        // The turn before the new message is the previous request's, with its answer.
        let previous = messages(k - 1);
        assert_eq!(m[1]["content"], previous[previous.len() - 1]["content"]);
        let answered = legal_answer(&requests[k - 1]).to_string();
        assert_eq!(m[2], json!({"role": "assistant", "content": answered}));
    }
    assert_eq!(fresh, 2, "one request without memory per episode");
    assert!(
        one_turn > 2,
        "{one_turn}: a third turn of an episode remembers the second only"
    );
    drop(requests);
    // What the env keeps is the latest turn alone: the memory does not grow with the episode.
    let mut sim = s.sim().unwrap();
    let actions = vec![0.0; 2 * s.game.action_space(2).flat_dim()];
    for _ in 0..5 {
        sim.step(&actions).unwrap();
        let kept = sim.env().policy_extras().memory(AgentId(0)).lines().count();
        assert!(kept <= 1, "{kept} turns kept");
    }
}

/// The same request made twice (an agent at the first step of two episodes) that failed the
/// first time and was answered the second replays both: the cache gives a request's failures in
/// order before its answer.
#[test]
fn a_request_that_failed_then_was_answered_replays_both() {
    let server = serve(|n| {
        if n < 2 {
            Reply::Status(500)
        } else {
            Reply::Legal
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[scenario]\nname = \"llm\"\nseed = 3\nepisodes = 2\n[game.repeated]\nturns = 2\n\
         [[agents]]\ncontroller = {{ llm = {{ base_url = \"{}\", model = \"test\", retries = 1, \
         retry_wait_s = 0, cache = \"answers.jsonl\" }} }}\n[[agents]]\nstrategy = \"tft\"\n",
        server.url
    );
    let out = |name: &str| dir.path().join(name);
    run(&scenario_in(dir.path(), &text), &out("recorded"), |_| {}).unwrap();
    let asked = server.requests.lock().unwrap().clone();
    let first = |n: usize| asked[n]["messages"].clone();
    // The first step's prompt of episode 1 is episode 0's: one request, failed then answered.
    let again = (2..asked.len()).find(|&n| first(n) == first(0));
    assert!(again.is_some(), "no request repeats the first");
    run(&scenario_in(dir.path(), &text), &out("replayed"), |_| {}).unwrap();
    assert_eq!(server.requests.lock().unwrap().len(), asked.len());
    let transcript =
        |run: &str| std::fs::read_to_string(out(run).join("transcript.jsonl")).unwrap();
    assert!(transcript("recorded").contains("\"fault\""));
    assert_eq!(transcript("recorded"), transcript("replayed"));
}

/// Runs that share one cache (`socium evolve`'s, played at once) ask the same request in whatever
/// order their threads come, and a replay gives each recorded failure back to the env that met
/// it, whichever asks first. Recorded: the env seeded 1 asks an IPD's first request and fails,
/// then the env seeded 2 asks it and is answered; replayed in the other order, each gets what it
/// got (before the failures named their env, the first to ask took the failure).
#[test]
fn a_recorded_failure_goes_back_to_the_env_that_met_it() {
    let server = serve(first_fails);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[scenario]\nname = \"ipd\"\n[game.repeated]\nturns = 2\n\
         [[agents]]\ncontroller = {{ llm = {{ base_url = \"{}\", model = \"test\", retries = 0, \
         cache = \"answers.jsonl\" }} }}\n[[agents]]\nstrategy = \"tft\"\n",
        server.url
    );
    // Whether the first step of the env seeded `seed` (in a VecEnv of its own, the scenario's
    // policy and cache shared) faulted. Built with seed 0 and reset with `seed`: the env asks as
    // its last seeded reset names it.
    let faulted = |s: &Scenario, seed: u64| {
        let mut env = VecEnv::new(&*s.game, &s.config, &[0]).unwrap();
        env.reset(Some(&[seed])).unwrap();
        env.step(&vec![0.0; 2 * s.game.action_space(2).flat_dim()])
            .unwrap();
        !env.env(0).faults().current().is_empty()
    };
    let recorded = scenario_in(dir.path(), &text);
    assert_eq!(
        (faulted(&recorded, 1), faulted(&recorded, 2)),
        (true, false)
    );
    let asked = server.requests.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0], asked[1], "both envs ask the same request");
    let cache = std::fs::read_to_string(dir.path().join("answers.jsonl")).unwrap();
    let failure: Value = serde_json::from_str(cache.lines().next().unwrap()).unwrap();
    assert_eq!(failure["asker"], 1, "{cache}");
    let replayed = scenario_in(dir.path(), &text);
    assert_eq!(
        (faulted(&replayed, 2), faulted(&replayed, 1)),
        (false, true)
    );
    // A failure that names no env (a line from before they did) goes to whichever asks first.
    let unnamed = cache.replace("\"asker\":1,", "");
    assert_ne!(unnamed, cache);
    std::fs::write(dir.path().join("answers.jsonl"), unnamed).unwrap();
    let replayed = scenario_in(dir.path(), &text);
    assert_eq!(
        (faulted(&replayed, 2), faulted(&replayed, 1)),
        (true, false)
    );
    assert_eq!(server.requests.lock().unwrap().len(), 2, "the replay asked");
}

/// A failed request is asked again after a wait: the server's `Retry-After` where it sends one,
/// else `retry_wait_s`, doubled at each failure of the decision (the first wait after the busy
/// reply's is 0.2 × 2). The arrivals of one decision's requests are at least that far apart.
#[test]
fn failed_requests_wait_as_the_server_asks_then_twice_as_long_each_time() {
    let server = serve(|n| match n {
        0 => Reply::Busy(1),
        1 | 2 => Reply::Status(500),
        _ => Reply::Legal,
    });
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(
        dir.path(),
        &negotiation(&server.url, "retries = 3, retry_wait_s = 0.2"),
    );
    let (faults, _) = run_it(&s, dir.path());
    assert_eq!(faults, 0, "the fourth attempt is answered");
    let arrivals = server.arrivals.lock().unwrap();
    let gaps: Vec<f64> = (arrivals.windows(2).take(3))
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    for (gap, least) in gaps.iter().zip([1.0, 0.4, 0.8]) {
        assert!(
            *gap >= least,
            "waits {gaps:?}, expected at least 1, 0.4, 0.8 s"
        );
    }
}

/// A judge scores every agent after each episode from the episode's words (not its rewards), and
/// the summary reports its agreement with the exact totals: the mean absolute error and
/// Spearman's rank correlation, per dimension, computed here from the transcript again.
#[test]
fn a_judge_is_measured_against_the_exact_rewards() {
    let judge = serve(|_| Reply::Judge);
    let text = format!(
        "[scenario]\nname = \"judged\"\nseed = 4\nepisodes = 3\n[game.negotiation]\n\
         [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"conceder\"\n\
         [judge]\nbase_url = \"{}\"\nmodel = \"judge\"\n",
        judge.url
    );
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &text);
    let summary = run(&s, &dir.path().join("out"), |_| {}).unwrap();
    for request in judge.requests.lock().unwrap().iter() {
        let user = request["messages"][1]["content"].as_str().unwrap();
        assert!(
            !user.contains("goal") && !user.contains("reward"),
            "the judge sees no rewards"
        );
        // Seeded like an agent's request: a seeded server judges alike without a cache.
        assert!(request["seed"].is_u64(), "{request}");
    }
    let report = summary.judge.expect("a judge report");
    assert_eq!(
        (report.model.as_str(), report.scored, report.faults),
        ("judge", 6, 0)
    );
    // The exact totals, per episode and agent, from the transcript's reward entries.
    let transcript = std::fs::read_to_string(dir.path().join("out/transcript.jsonl")).unwrap();
    let mut exact = std::collections::BTreeMap::<(u64, u32, String), f64>::new();
    for line in transcript.lines() {
        let line: TranscriptLine = serde_json::from_str(line).unwrap();
        for r in line.rewards() {
            *exact
                .entry((line.episode(), r.agent.0, r.dimension.to_string()))
                .or_default() += r.value;
        }
    }
    let goal = &report.dimensions["goal"];
    let pairs: Vec<(f64, f64)> = (0..3u64)
        .flat_map(|e| (0..2u32).map(move |a| (e, a)))
        .map(|(e, a)| {
            let judged = if a == 0 { 1.0 } else { 2.0 };
            (
                judged,
                exact
                    .get(&(e, a, "goal".to_owned()))
                    .copied()
                    .unwrap_or(0.0),
            )
        })
        .collect();
    let mae = pairs.iter().map(|(j, x)| (j - x).abs()).sum::<f64>() / 6.0;
    assert_eq!(goal.n, 6);
    let judged = goal.mae.unwrap();
    assert!((judged - mae).abs() < 1e-9, "{judged} vs {mae}");
    let json = std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap();
    assert!(
        json.contains("\"judge\"") && json.contains("\"spearman\""),
        "{json}"
    );
}

/// A judge that gives no usable scores is counted, not believed.
#[test]
fn a_judge_without_usable_scores_is_counted() {
    let judge = serve(|_| Reply::Content("splendid negotiators, both".into()));
    let text = format!(
        "[scenario]\nname = \"judged\"\nepisodes = 2\n[game.negotiation]\n\
         [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"greedy\"\n\
         [judge]\nbase_url = \"{}\"\nmodel = \"judge\"\nretries = 1\n",
        judge.url
    );
    let dir = tempfile::tempdir().unwrap();
    let summary = run(
        &scenario_in(dir.path(), &text),
        &dir.path().join("out"),
        |_| {},
    )
    .unwrap();
    let report = summary.judge.unwrap();
    assert_eq!((report.scored, report.faults), (0, 4));
    assert_eq!(report.dimensions["goal"].n, 0);
    let requests = judge.requests.lock().unwrap();
    assert_eq!(requests.len(), 8, "1 + 1 retry per agent-episode");
    // A retry carries the unusable answer and what is wrong with it, as an agent's does.
    let retry = requests
        .iter()
        .find(|r| r["messages"].as_array().unwrap().len() == 4);
    let said = retry.expect("a retry with the complaint")["messages"][3]["content"].to_string();
    assert!(said.contains("That answer cannot be used"), "{said}");
}

/// A judge, or a language model attributing rewards, whose server refuses or is never reached
/// stops the run with nothing written, as an agent's does: every request of the run would fail
/// alike, and a summary of faults alone would look like any other run's.
#[test]
fn a_judge_or_rater_refused_or_never_reached_stops_the_run() {
    let refusing = serve(|_| Reply::Status(401));
    let llm =
        |url: &str| format!("base_url = \"{url}\", model = \"m\", retries = 1, retry_wait_s = 0");
    let judge = |url: &str| format!("[judge]\n{}\n", llm(url).replace(", ", "\n"));
    let rater = |url: &str| {
        format!(
            "[attribution]\ndimensions = [\"goal\"]\nmethod = {{ llm = {{ {} }} }}\n",
            llm(url)
        )
    };
    let servers = [
        (refusing.url.clone(), "HTTP 401"),
        (closed_port(), "no server has answered there in this run"),
    ];
    for (table, stopped_by) in [
        (&judge as &dyn Fn(&str) -> String, "judge"),
        (&rater, "attribution"),
    ] {
        for (url, expected) in &servers {
            let text = format!(
                "[scenario]\nname = \"judged\"\nepisodes = 2\n[game.negotiation]\n\
                 [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"greedy\"\n{}",
                table(url)
            );
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out");
            let message = match run(&scenario_in(dir.path(), &text), &out, |_| {}) {
                Err(e @ (RunError::Judge { .. } | RunError::Attribution { .. })) => e.to_string(),
                other => panic!("expected the {stopped_by} to stop the run, got {other:?}"),
            };
            let prefix = format!("episode 0: {stopped_by}: ");
            assert!(
                message.starts_with(&prefix) && message.contains(expected),
                "{message}"
            );
            assert!(!out.exists(), "nothing half-written");
        }
    }
    assert_eq!(
        refusing.requests.lock().unwrap().len(),
        2,
        "a refusal is not retried"
    );
}

/// Sotopia-RL's attribution through the `llm` client: the rater sees the episode's words with
/// every utterance's id (not its rewards), rates the agent's utterances 0..3, and each agent's
/// score goes to its utterances in proportion: here all of it to the first. A rater without
/// usable answers is counted, and its agents' utterances weighed equally.
#[test]
fn a_language_model_attributes_each_score_to_the_utterances_it_rates() {
    let rater = serve(|_| Reply::Rate);
    let text = |url: &str| {
        format!(
            "[scenario]\nname = \"rated\"\nseed = 5\nepisodes = 3\n[game.negotiation]\n\
             [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"conceder\"\n\
             [attribution]\ndimensions = [\"goal\", \"believability\"]\n\
             method = {{ llm = {{ base_url = \"{url}\", model = \"rater\", retries = 0 }} }}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let s = scenario_in(dir.path(), &text(&rater.url));
    let summary = run(&s, &dir.path().join("out"), |_| {}).unwrap();
    let requests = rater.requests.lock().unwrap();
    assert_eq!(requests.len(), 6, "one request per agent and episode");
    for request in requests.iter() {
        let user = request["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.contains("u0 [step 0]") && !user.contains("reward"),
            "{user}"
        );
    }
    let report = summary.attribution.expect("an attribution report");
    assert_eq!((report.method.as_str(), report.faults), ("llm (rater)", 0));
    let lines = std::fs::read_to_string(dir.path().join("out/attribution.jsonl")).unwrap();
    let mut firsts = std::collections::BTreeSet::new();
    let mut totals = std::collections::BTreeMap::<(u64, u64), (f64, f64)>::new();
    for line in lines.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let key = (v["episode"].as_u64().unwrap(), v["agent"].as_u64().unwrap());
        let (given, exact) = (
            v["attributed"]["goal"].as_f64().unwrap(),
            v["exact"]["goal"].as_f64().unwrap(),
        );
        let t = totals.entry(key).or_default();
        t.0 += exact;
        if firsts.insert(key) {
            t.1 = given;
        } else {
            assert_eq!(given, 0.0, "{key:?}: rated 0, given {given}");
        }
    }
    for (key, (score, first)) in totals {
        assert!((score - first).abs() < 1e-9, "{key:?}: {first} vs {score}");
    }

    let mute = serve(|_| Reply::Content("a fine negotiation".into()));
    let dir = tempfile::tempdir().unwrap();
    let summary = run(
        &scenario_in(dir.path(), &text(&mute.url)),
        &dir.path().join("out"),
        |_| {},
    )
    .unwrap();
    assert_eq!(summary.attribution.unwrap().faults, 6);
}

/// The rater names each agent by its label as the changes in force give it: after a change that
/// relabels an agent, the new label (the labels had been read once, at the run's start).
#[test]
fn a_relabelled_agent_is_rated_under_its_new_label() {
    let rater = serve(|_| Reply::Rate);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[scenario]\nname = \"rated\"\nseed = 5\nepisodes = 3\n[game.negotiation]\n\
         [[agents]]\nstrategy = \"fair\"\n[[agents]]\nstrategy = \"conceder\"\n\
         [attribution]\ndimensions = [\"goal\"]\n\
         method = {{ llm = {{ base_url = \"{}\", model = \"rater\", retries = 0 }} }}\n\
         [[timeline]]\nepisode = 2\nset = {{ \"agents[1].label\" = \"renamed\" }}\n",
        rater.url
    );
    run(
        &scenario_in(dir.path(), &text),
        &dir.path().join("out"),
        |_| {},
    )
    .unwrap();
    let requests = rater.requests.lock().unwrap();
    let named: Vec<bool> = (requests.iter())
        .map(|r| {
            r["messages"][1]["content"]
                .as_str()
                .unwrap()
                .contains("(renamed)")
        })
        .collect();
    assert_eq!(
        named,
        [false, false, false, false, false, true],
        "one request an agent and episode"
    );
}

/// A request that two askers (two envs' agents) send at once through a cache is sent once, and
/// both get its answer, the one a replay gives; without a cache each asks.
#[test]
fn a_request_asked_twice_at_once_is_sent_once_through_a_cache() {
    let server = serve(|n| {
        Reply::Wait(
            Duration::from_millis(300),
            Box::new(Reply::Content(format!("answer {n}"))),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.jsonl");
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]});
    let chat = |cache| {
        let wait = Duration::from_millis(1);
        socium_llm::Chat::new(&server.url, None, Duration::from_secs(10), wait, cache)
    };
    let both = |chat: &socium_llm::Chat| {
        std::thread::scope(|scope| {
            let asks = [(); 2].map(|_| scope.spawn(|| chat.complete(&request, None).unwrap()));
            asks.map(|a| a.join().unwrap())
        })
    };
    let cached = chat(Some(socium_llm::Cache::open(&path, &server.url).unwrap()));
    assert_eq!(both(&cached), ["answer 0", "answer 0"]);
    assert_eq!(server.requests.lock().unwrap().len(), 1);
    let mut answers = both(&chat(None));
    answers.sort();
    assert_eq!(answers, ["answer 1", "answer 2"]);
}

/// A cache's lines name their endpoint: another `base_url` does not replay them.
#[test]
fn a_cache_replays_only_its_own_endpoints_answers() {
    let server = serve(|n| Reply::Content(format!("answer {n}")));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("answers.jsonl");
    let request = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]});
    let ask = |base_url: &str| {
        let cache = socium_llm::Cache::open(&path, base_url).unwrap();
        let wait = Duration::from_millis(1);
        let chat =
            socium_llm::Chat::new(base_url, None, Duration::from_secs(10), wait, Some(cache));
        chat.complete(&request, None)
    };
    assert_eq!(ask(&server.url).unwrap(), "answer 0");
    assert_eq!(ask(&server.url).unwrap(), "answer 0", "replayed");
    // The same server under another name: asked, not replayed.
    let other = server.url.replace("127.0.0.1", "localhost");
    assert_eq!(ask(&other).unwrap(), "answer 1");
    assert_eq!(server.requests.lock().unwrap().len(), 2);
    let lines = std::fs::read_to_string(&path).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(
        lines.lines().all(|l| l.contains("\"url\":\"http://")),
        "{lines}"
    );
}
