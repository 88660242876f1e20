//! Language-model agents: an [`LlmPolicy`] acts for a group of agents in any game through any
//! server that speaks the OpenAI chat-completions protocol (vLLM, llama.cpp's server, Ollama,
//! LiteLLM; Sotopia's `custom/<model>@<url>`).
//!
//! At each step, every acting agent of the group, across every env the policy acts in, gets a
//! prompt — the game in words ([`socium_core::Rules::prompt`], rendered from the agent's
//! observation and mask) in the scenario's templates — and asks for a JSON answer constrained by
//! a schema derived from its action space and mask ([`AnswerFormat`]). Requests run concurrently,
//! at most `max_in_flight` at once, so a step costs about its slowest answer. An answer that is
//! not usable is sent back with what is wrong, a failed request is asked again after a wait
//! ([`Backoff`]: the server's `Retry-After`, or a doubling wait); after the last retry the agent
//! takes the default act and the kernel records a fault (counted per episode, a transcript
//! line): a failing server never scores a silent 0. A refusal (a 4xx other than 408 and 429: wrong model, URL or key)
//! stops the run with the server's message. Every answer (and every failure) can be kept in a
//! cache keyed by the request, from which a run replays byte for byte with no server.

mod answer;
mod chat;
mod judge;

pub use answer::{Answer, AnswerFormat, BadAnswer};
pub use chat::{Backoff, Cache, Chat, ChatError, Failure, MAX_WAIT};
pub use judge::{JUDGE_SYSTEM, JUDGE_USER, Judge, RATE_SYSTEM, RATE_USER};

use serde::Deserialize;
use serde_json::{Value, json};
use socium_core::{
    AgentId, Game, Note, Policy, PolicyBatch, PolicyError,
    bounded::{Count, NonNegative, Positive},
};
use std::{
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// `controller = { llm = { ... } }`: the server, the model and how to ask it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// The server's base URL, up to `/v1` (`http://127.0.0.1:8080/v1`).
    pub base_url: String,
    /// The model's name on the server.
    pub model: String,
    /// An environment variable holding the API key (none: no `Authorization` header).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Sampling temperature.
    #[serde(default = "zero")]
    pub temperature: NonNegative,
    /// The most tokens of an answer.
    #[serde(default = "max_tokens")]
    pub max_tokens: Count,
    /// Seconds a request may take, connection included.
    #[serde(default = "timeout_s")]
    pub timeout_s: Positive,
    /// Requests after the first for one decision, when the server fails or the answer is not
    /// usable.
    #[serde(default = "retries")]
    pub retries: u32,
    /// Seconds to wait before asking again after a failed request, doubled at each further
    /// failure of the decision; a server's `Retry-After` is waited instead; at most
    /// [`MAX_WAIT`] ([`Backoff`]).
    #[serde(default = "retry_wait_s")]
    pub retry_wait_s: NonNegative,
    /// The most requests in flight at once.
    #[serde(default = "max_in_flight")]
    pub max_in_flight: Count,
    /// Earlier turns of the episode an agent sees again when asked, the latest: each its user
    /// message and its answer (a turn with no usable answer says the default act was played),
    /// as the conversation before the new user message (0: none; a judge ignores it).
    #[serde(default)]
    pub memory: u32,
    /// A cache file of every answer by request (relative to the scenario file): answers found
    /// there are not asked again.
    #[serde(default)]
    pub cache: Option<String>,
    /// The system message's template. An agent's: `{rules}` (the game and the agent's role)
    /// and `{answer}` (how to answer), default [`DEFAULT_TEMPLATES`]`[0]`; a judge's or an
    /// attribution's: `{game}` and `{dimensions}`, default [`JUDGE_SYSTEM`] or [`RATE_SYSTEM`].
    #[serde(default)]
    pub system: Option<String>,
    /// The user message's template. An agent's: `{situation}` (what the agent sees) and
    /// `{acts}` (its legal acts under a heading, a line each; empty when the action has no
    /// discrete part), default [`DEFAULT_TEMPLATES`]`[1]`; a judge's: `{episode}` and `{agent}`,
    /// default [`JUDGE_USER`]; an attribution's: those and `{utterances}` (the agent's
    /// utterance ids), default [`RATE_USER`].
    #[serde(default)]
    pub user: Option<String>,
}

fn zero() -> NonNegative {
    NonNegative::new(0.0).expect("in range")
}
fn max_tokens() -> Count {
    Count::new(256).expect("in range")
}
fn timeout_s() -> Positive {
    Positive::new(60.0).expect("in range")
}
fn retries() -> u32 {
    2
}
fn retry_wait_s() -> NonNegative {
    NonNegative::new(1.0).expect("in range")
}
fn max_in_flight() -> Count {
    Count::new(16).expect("in range")
}

/// A language model acting for every agent it controls.
pub struct LlmPolicy {
    name: String,
    config: LlmConfig,
    game: Arc<dyn Game>,
    agents: usize,
    format: AnswerFormat,
    chat: Chat,
}

impl LlmPolicy {
    /// A policy for `agents` agents of `game`; `dir` anchors the cache file. Refused when the
    /// action space cannot be answered in JSON, the key's variable is not set, or the cache
    /// cannot be read.
    pub fn new(
        config: LlmConfig,
        game: Arc<dyn Game>,
        agents: usize,
        dir: &Path,
    ) -> Result<Self, String> {
        let format = AnswerFormat::new(&game.action_space(agents))?;
        let chat = chat_for(&config, dir)?;
        Ok(LlmPolicy {
            name: format!("llm {}@{}", config.model, config.base_url),
            config,
            game,
            agents,
            format,
            chat,
        })
    }

    /// The messages of a first request for `agent`: the system message, the turns of `memory`
    /// it is to see again (at most `memory` of the config, the latest), and the user message,
    /// which is also returned on its own.
    fn messages(
        &self,
        agent: AgentId,
        obs: &[f32],
        mask: &[u8],
        memory: &str,
    ) -> (Vec<Value>, String) {
        let templates = [
            self.config
                .system
                .as_deref()
                .unwrap_or(DEFAULT_TEMPLATES[0]),
            self.config.user.as_deref().unwrap_or(DEFAULT_TEMPLATES[1]),
        ];
        let [system, user] = messages(
            &*self.game,
            self.agents,
            &self.format,
            templates,
            agent,
            obs,
            mask,
        );
        let mut turns: Vec<Turn> = (memory.lines().rev())
            .take(self.config.memory as usize)
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        turns.reverse();
        let mut messages = vec![json!({"role": "system", "content": system})];
        for turn in turns {
            messages.push(json!({"role": "user", "content": turn.user}));
            messages.push(json!({"role": "assistant", "content": turn.answer}));
        }
        messages.push(json!({"role": "user", "content": user}));
        (messages, user)
    }

    /// One agent's decision, given what its earlier decisions this episode left in `memory`,
    /// asked for the env seeded `asker`.
    fn decide(
        &self,
        agent: AgentId,
        obs: &[f32],
        mask: &[u8],
        memory: &str,
        asker: u64,
    ) -> Result<Decision, String> {
        let schema = self.format.schema(mask);
        let attempts = 1 + self.config.retries;
        let request =
            |messages: &[Value]| request_body(&self.config, agent, messages, "answer", &schema);
        let read = |text: &str| match self.format.parse(text, mask) {
            Ok(answer) => Ok((answer, text.to_owned())),
            Err(bad) => Err(bad.to_string()),
        };
        let (messages, user) = self.messages(agent, obs, mask, memory);
        // The memory to keep, when the agent remembers: its latest turns, this one the last.
        let remember = |answer: String| {
            let turn = Turn { user, answer };
            (self.config.memory > 0).then(|| {
                let kept = self.config.memory as usize - 1;
                let earlier: Vec<&str> = memory.lines().rev().take(kept).collect();
                let mut memory: String = earlier.iter().rev().map(|l| format!("{l}\n")).collect();
                memory += &(serde_json::to_string(&turn).expect("a turn serialises") + "\n");
                memory
            })
        };
        let last = match (self.chat).converse(messages, attempts, Some(asker), request, read)? {
            Ok((answer, text)) => {
                return Ok(Decision {
                    answer,
                    fault: None,
                    remember: remember(text),
                });
            }
            Err(last) => last,
        };
        let tries = if attempts == 1 { "attempt" } else { "attempts" };
        let fault = format!("no usable answer in {attempts} {tries}; the last: {last}");
        Ok(Decision {
            answer: self.format.default_answer(mask),
            fault: Some(fault),
            // Its history shows that this turn played the default act.
            remember: remember(NO_ANSWER.to_owned()),
        })
    }
}

/// What an agent's memory says it answered at a turn that had no usable answer.
const NO_ANSWER: &str = "(no usable answer: the default act was played)";

/// One agent's decision: its answer, the fault that made it the default one, and the turn to
/// remember.
#[derive(Clone)]
struct Decision {
    answer: Answer,
    fault: Option<String>,
    remember: Option<String>,
}

/// A turn of an agent's conversation, as its memory keeps it (a JSON line): what it was told and
/// what it answered.
#[derive(serde::Serialize, Deserialize)]
struct Turn {
    user: String,
    answer: String,
}

/// A chat-completions request of `config`'s model for `messages`, whose answer must follow the
/// JSON `schema` (named `name`), seeded by `agent` (who asks) and the messages: the same request
/// is the same request, run after run, so a seeded server answers it alike without a cache.
fn request_body(
    config: &LlmConfig,
    agent: AgentId,
    messages: &[Value],
    name: &str,
    schema: &Value,
) -> Value {
    json!({
        "model": config.model,
        "messages": messages,
        "temperature": config.temperature.get(),
        "max_tokens": config.max_tokens.get(),
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": true, "schema": schema},
        },
        "seed": seed(agent, messages),
    })
}

/// The endpoint of `config`: its URL checked, its API key read from the environment, its cache
/// (relative to `dir`) read.
fn chat_for(config: &LlmConfig, dir: &Path) -> Result<Chat, String> {
    check_base_url(&config.base_url)?;
    let key =
        match &config.api_key_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                format!("`api_key_env`: the environment variable `{var}` is not set")
            })?),
            None => None,
        };
    let cache = match &config.cache {
        Some(file) => Some(Cache::open(&dir.join(file), &config.base_url)?),
        None => None,
    };
    let timeout = seconds("timeout_s", config.timeout_s.get())?;
    let retry_wait = seconds("retry_wait_s", config.retry_wait_s.get())?;
    Ok(Chat::new(&config.base_url, key, timeout, retry_wait, cache))
}

/// Refuses a `base_url` that is not an `http://` or `https://` URL with a host, which no
/// request could reach.
fn check_base_url(base_url: &str) -> Result<(), String> {
    let expected = "expected an http:// or https:// URL such as `http://127.0.0.1:8080/v1`";
    let uri: ureq::http::Uri = (base_url.parse())
        .map_err(|e| format!("`base_url`: `{base_url}` is not a URL ({e}): {expected}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(host)) if !host.is_empty() => Ok(()),
        _ => Err(format!("`base_url`: `{base_url}`: {expected}")),
    }
}

/// `value` seconds of the key `key` as a `Duration`, or why not.
fn seconds(key: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("`{key}`: {value:?} seconds is more than a duration can hold"))
}

/// The default templates of an agent's system and user messages (see [`LlmConfig`]).
pub const DEFAULT_TEMPLATES: [&str; 2] = ["{rules}\n\n{answer}", "{situation}\n\n{acts}"];

/// The system and user messages that ask `agent` of `game` (`agents` playing) for its act, from
/// its observation row and mask, in `templates` (system, user; see [`LlmConfig`]).
pub fn messages(
    game: &dyn Game,
    agents: usize,
    format: &AnswerFormat,
    templates: [&str; 2],
    agent: AgentId,
    obs: &[f32],
    mask: &[u8],
) -> [String; 2] {
    let prompt = game.prompt(agents, agent, obs, mask);
    let answer = format.instructions(prompt.amount.as_deref());
    let acts = match prompt.acts.is_empty() {
        true => String::new(),
        false => prompt
            .acts
            .iter()
            .fold("Your legal acts:".to_owned(), |mut s, (i, words)| {
                s.push_str(&format!("\n{i}: {words}"));
                s
            }),
    };
    let [system, user] = templates;
    [
        system
            .replace("{rules}", &prompt.rules)
            .replace("{answer}", &answer)
            .trim_end()
            .to_owned(),
        user.replace("{situation}", &prompt.situation)
            .replace("{acts}", &acts)
            .trim_end()
            .to_owned(),
    ]
}

/// A request's seed: a hash of the agent and its messages (FNV-1a), so that the same request is
/// the same request, run after run.
fn seed(agent: AgentId, messages: &[Value]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(agent.0);
    for m in messages {
        for b in m.to_string().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (h >> 33) as u32
}

impl Policy for LlmPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn extras(&self) -> &[(String, usize)] {
        &[]
    }

    fn remembers(&self) -> bool {
        self.config.memory > 0
    }

    fn forward(&self, batch: PolicyBatch<'_>) -> Result<(), PolicyError> {
        let rows = batch.rows;
        if rows == 0 {
            return Ok(());
        }
        let (od, md, hd) = (
            batch.obs.len() / rows,
            batch.masks.len() / rows,
            batch.head.len() / rows,
        );
        let inputs = |r: usize| {
            let (agent, _) = batch.members[r];
            let obs = &batch.obs[r * od..(r + 1) * od];
            let mask = &batch.masks[r * md..(r + 1) * md];
            (agent, obs, mask, batch.memory.get(r).copied().unwrap_or(""))
        };
        let asker = |r: usize| batch.seeds[batch.offsets.partition_point(|&o| o <= r) - 1];
        // Rows with the same inputs (envs in the same state) make the same request: each is
        // decided once, for the first of them (its env the asker), and the others take its
        // decision. So what two envs get does not hang on which of their requests was answered
        // first (a failure replayed from the cache included), and each is asked once.
        let mut first: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
        let decided_by: Vec<usize> = (0..rows)
            .map(|r| {
                let (agent, obs, mask, memory) = inputs(r);
                let bits: Vec<u32> = obs.iter().map(|x| x.to_bits()).collect();
                *first.entry((agent, bits, mask, memory)).or_insert(r)
            })
            .collect();
        let unique: Vec<usize> = (0..rows).filter(|&r| decided_by[r] == r).collect();
        type Decided = Option<Result<Decision, String>>;
        let results: Vec<Mutex<Decided>> = (0..rows).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let workers = unique.len().min(self.config.max_in_flight.get() as usize);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while let Some(&r) = unique.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (agent, obs, mask, memory) = inputs(r);
                        let decided = self.decide(agent, obs, mask, memory, asker(r));
                        *results[r].lock().expect("never poisoned") = Some(decided);
                    }
                });
            }
        });
        // In row order, whatever order the answers came in.
        let results: Vec<Decided> = (results.into_iter())
            .map(|r| r.into_inner().expect("never poisoned"))
            .collect();
        for r in 0..rows {
            let decided = results[decided_by[r]].clone();
            let decision = (decided.expect("every row was decided"))
                .map_err(|message| PolicyError::at_row(r, message))?;
            batch.head[r * hd..(r + 1) * hd].copy_from_slice(&decision.answer.head);
            if let Some(text) = decision.answer.say {
                batch.notes.push((r, Note::Text(text)));
            }
            if let Some(fault) = decision.fault {
                batch.notes.push((r, Note::Fault(fault)));
            }
            if let Some(turn) = decision.remember {
                batch.notes.push((r, Note::Remember(turn)));
            }
        }
        Ok(())
    }
}
