//! The OpenAI chat-completions protocol over HTTP (what vLLM, llama.cpp's server, Ollama and
//! LiteLLM serve), with a cache of answers keyed by the whole request, and the waits between a
//! decision's attempts.

use serde_json::{Value, json};
use std::{
    collections::{HashMap, HashSet, VecDeque},
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::{
        Condvar, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// The longest wait between two attempts, whatever the server asks for: a step waits for it.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChatError {
    /// Worth trying again: no connection, a timeout, a server error (5xx, 408, 429), or a reply
    /// that is not a chat completion.
    #[error("{}", .0.message)]
    Transient(Failure),
    /// Not worth trying again: the server refused the request (another 4xx: a wrong model,
    /// URL or key). The run stops with this message.
    #[error("{0}")]
    Refused(String),
}

/// A request that failed but is worth trying again ([`ChatError::Transient`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// The wait the server asked for (`Retry-After`, in seconds).
    pub retry_after: Option<Duration>,
    /// Whether the cache replayed it (a failure of the run that recorded the cache): no server
    /// was asked, so there is nothing to wait for.
    pub replayed: bool,
    /// Whether no connection was made (refused, or no such host): nothing answered at all.
    pub no_connection: bool,
}

/// The waits between the attempts of one decision after failed requests: the server's
/// `Retry-After` where it gives one, else `first`, doubled at each failure; never more than
/// [`MAX_WAIT`], and none after a failure the cache replays. An unusable answer is asked again
/// at once (the server is working).
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Waits that start at `first`.
    pub fn new(first: Duration) -> Self {
        Backoff {
            next: first.min(MAX_WAIT),
        }
    }

    /// Sleeps before the attempt after `failure`.
    pub fn wait(&mut self, failure: &Failure) {
        if failure.replayed {
            return;
        }
        let wait = failure.retry_after.unwrap_or(self.next).min(MAX_WAIT);
        self.next = (self.next * 2).min(MAX_WAIT);
        std::thread::sleep(wait);
    }
}

/// A chat-completions endpoint, with its cache.
pub struct Chat {
    agent: ureq::Agent,
    url: String,
    key: Option<String>,
    /// The first wait of a decision's [`Backoff`].
    retry_wait: Duration,
    cache: Option<Cache>,
    /// Whether the server has answered any request of this run (with any status).
    reached: AtomicBool,
}

impl Chat {
    /// `base_url` up to and without `/chat/completions` (e.g. `http://127.0.0.1:8080/v1`);
    /// `retry_wait` is the first wait after a failed request ([`Backoff`]).
    pub fn new(
        base_url: &str,
        key: Option<String>,
        timeout: Duration,
        retry_wait: Duration,
        cache: Option<Cache>,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Chat {
            agent,
            url: endpoint(base_url),
            key,
            retry_wait,
            cache,
            reached: AtomicBool::new(false),
        }
    }

    /// Asks up to `attempts` times for `asker` (an env's seed, or `None`: see
    /// [`Chat::complete`]), until `read` takes an answer: `request` makes each
    /// attempt's body from the conversation so far (`messages`). After a failed request the next
    /// attempt waits ([`Backoff`]); after an unusable answer it is asked at once, with the answer
    /// and what `read` found wrong with it added to the conversation. The answer read, or what
    /// went wrong at the last attempt; `Err` when the server refused, or when no attempt found
    /// a server and none has answered in this run (it is not running, or `base_url` is wrong):
    /// the run stops.
    pub fn converse<T>(
        &self,
        mut messages: Vec<Value>,
        attempts: u32,
        asker: Option<u64>,
        request: impl Fn(&[Value]) -> Value,
        read: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Result<T, String>, String> {
        let mut backoff = Backoff::new(self.retry_wait);
        let mut last = String::new();
        let mut no_connection = true;
        for attempt in 1..=attempts {
            match self.complete(&request(&messages), asker) {
                Ok(text) => match read(&text) {
                    Ok(answer) => return Ok(Ok(answer)),
                    Err(bad) => {
                        last = format!("unusable answer: {bad}");
                        messages.push(json!({"role": "assistant", "content": text}));
                        messages.push(json!({"role": "user", "content": format!(
                            "That answer cannot be used: {bad}. Answer again with one JSON object."
                        )}));
                    }
                },
                Err(ChatError::Refused(message)) => return Err(message),
                Err(ChatError::Transient(failure)) => {
                    no_connection &= failure.no_connection;
                    if attempt < attempts {
                        backoff.wait(&failure);
                    }
                    last = failure.message;
                }
            }
        }
        if no_connection && !self.reached() {
            // Every default act of the run would follow: a set-up error, not a fault.
            return Err(format!(
                "{last} ({attempts} attempts; no server has answered there in this run: start \
                 it, or correct `base_url`)"
            ));
        }
        Ok(Err(last))
    }

    /// The answer's text to `request` (a chat-completions body): from the cache if it holds
    /// it, else from the server (and then recorded in the cache, a failure too, under its
    /// `asker`). With a cache, a request already being asked (by another env's agent, say)
    /// waits for that answer rather than asking again, so every asker of it gets the answer a
    /// replay gives. `asker` is the seed of the env that asks (`None` for a judge): a recorded
    /// failure is replayed to the env that met it, whichever env asks first.
    pub fn complete(&self, request: &Value, asker: Option<u64>) -> Result<String, ChatError> {
        let key = request.to_string();
        let Some(cache) = &self.cache else {
            return self.ask(&key);
        };
        let _asking = match cache.turn(&key, asker) {
            Ok(asking) => asking,
            Err(recorded) => {
                return recorded.map_err(|message| {
                    ChatError::Transient(Failure {
                        message,
                        retry_after: None,
                        replayed: true,
                        no_connection: false,
                    })
                });
            }
        };
        let asked = self.ask(&key);
        let recorded = match &asked {
            Ok(answer) => Ok(answer.as_str()),
            // No server yet: not its behaviour to replay, and a run that never reaches one stops
            // (`converse`); recorded, it would fault the next run's request once one listens.
            Err(ChatError::Transient(f)) if f.no_connection && !self.reached() => return asked,
            Err(ChatError::Transient(failure)) => Err(failure.message.as_str()),
            Err(ChatError::Refused(_)) => return asked,
        };
        cache.record(&key, asker, recorded).map_err(|e| {
            ChatError::Refused(format!(
                "{}: cannot record the answer: {e}",
                cache.path.display()
            ))
        })?;
        asked
    }

    /// Whether the server has answered any request of this run.
    fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// The server's answer to the request `body`.
    fn ask(&self, body: &str) -> Result<String, ChatError> {
        let mut call = self.agent.post(&self.url).content_type("application/json");
        if let Some(k) = &self.key {
            call = call.header("Authorization", format!("Bearer {k}"));
        }
        let failure = |message: String, retry_after: Option<Duration>, no_connection: bool| {
            ChatError::Transient(Failure {
                message,
                retry_after,
                replayed: false,
                no_connection,
            })
        };
        let transient =
            |message: String, retry_after: Option<Duration>| failure(message, retry_after, false);
        let unreachable = |e: ureq::Error| {
            let message = format!("{}: {e}", self.url);
            match e {
                ureq::Error::BadUri(_) | ureq::Error::Http(_) => ChatError::Refused(message),
                ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                    failure(message, None, true)
                }
                ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                    failure(message, None, true)
                }
                _ => transient(message, None),
            }
        };
        let mut response = call.send(body).map_err(unreachable)?;
        self.reached.store(true, Ordering::Relaxed);
        let status = response.status().as_u16();
        // Seconds only: the HTTP-date form is rare from API servers.
        let retry_after = (response.headers().get("retry-after"))
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let answer = response.body_mut().read_to_string().map_err(unreachable)?;
        let said = || answer.chars().take(200).collect::<String>();
        if status != 200 {
            let message = format!("{} answered HTTP {status}: {}", self.url, said());
            return Err(match status {
                408 | 429 | 500.. => transient(message, retry_after),
                _ => ChatError::Refused(message),
            });
        }
        serde_json::from_str::<Value>(&answer)
            .ok()
            .and_then(|v| {
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                let message = format!(
                    "{} answered with no `choices[0].message.content`: {}",
                    self.url,
                    said()
                );
                transient(message, None)
            })
    }
}

/// One endpoint's answers by request, read from a JSON-lines file (`{"url": ..., "request": ...,
/// "answer": "..."}`, the url the endpoint's) and appended to as new answers come: a run with the
/// cache and no server replays the run that recorded it. Each failure of a request is recorded
/// too, with the seed of the env that asked (`{"url": ..., "request": ..., "asker": seed,
/// "failure": "..."}`; no `asker` for a judge's), and a replay gives the env a request's
/// failures again, in the order they came, before its answer: the same request made twice (an
/// agent that sees the same thing in two episodes) fails where the recorded run failed and is
/// answered where it was answered. Runs played at once with one cache (`socium evolve`'s) ask
/// the same request in whatever order their threads come; each failure goes back to the env
/// that met it, so a replay does not hang on that order. A failure with no `asker` (a judge's,
/// or a line from before lines named one) goes to whichever asks first. Failures recorded in
/// this run are not replayed in it: its retries ask the server.
pub struct Cache {
    path: PathBuf,
    /// The endpoint whose answers these are: each line names it, and lines of another are left
    /// alone (lines that name none, from before lines did, are taken as its).
    url: String,
    recorded: Mutex<HashMap<String, Recorded>>,
    /// The requests being asked of the server now, and the signal that one was answered.
    asking: (Mutex<HashSet<String>>, Condvar),
    /// Opened for appending at the first new line: loading a scenario writes nothing.
    file: Mutex<Option<File>>,
}

/// A request being asked of the server by this thread: dropped, it lets the others waiting for
/// it look in the cache again.
struct Asking<'a> {
    cache: &'a Cache,
    request: &'a str,
}

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        let (asking, answered) = &self.cache.asking;
        lock(asking).remove(self.request);
        answered.notify_all();
    }
}

/// Locks `mutex`. Its data stays whole even where a thread panicked holding it: each change
/// under these locks is one insertion or removal.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The chat-completions URL of a `base_url`.
fn endpoint(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

/// What the cache file holds for one request.
#[derive(Default)]
struct Recorded {
    /// The failures a replay has yet to give, first first, by the env that met them.
    failures: HashMap<Option<u64>, VecDeque<String>>,
    /// The answer, given once the failures are.
    answer: Option<String>,
}

impl Cache {
    /// Reads the cache file's answers of the endpoint `base_url`, if the file exists (it is
    /// created at the first line to record).
    pub fn open(path: &Path, base_url: &str) -> Result<Cache, String> {
        let url = endpoint(base_url);
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut recorded: HashMap<String, Recorded> = HashMap::new();
        if path.exists() {
            let file = File::open(path).map_err(fail)?;
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(fail)?;
                if line.trim().is_empty() {
                    continue;
                }
                let entry: Value = serde_json::from_str(&line)
                    .map_err(|e| format!("{}:{}: not a cache line: {e}", path.display(), i + 1))?;
                if entry.get("url").is_some_and(|u| *u != *url) {
                    continue;
                }
                let key = entry.get("request").map(Value::to_string);
                let asker = match entry.get("asker") {
                    None => Some(None),
                    Some(seed) => seed.as_u64().map(Some),
                };
                match (
                    key,
                    asker,
                    entry["answer"].as_str(),
                    entry["failure"].as_str(),
                ) {
                    (Some(key), Some(None), Some(answer), None) => {
                        recorded.entry(key).or_default().answer = Some(answer.to_owned());
                    }
                    (Some(key), Some(asker), None, Some(failure)) => {
                        let failures = &mut recorded.entry(key).or_default().failures;
                        failures
                            .entry(asker)
                            .or_default()
                            .push_back(failure.to_owned());
                    }
                    _ => {
                        return Err(format!(
                            "{}:{}: expected {{\"request\": ..., \"answer\": \"...\"}} or \
                             {{\"request\": ..., \"failure\": \"...\"}} (with an \
                             \"asker\", a whole number, or none)",
                            path.display(),
                            i + 1
                        ));
                    }
                }
            }
        }
        Ok(Cache {
            path: path.to_owned(),
            url,
            recorded: Mutex::new(recorded),
            asking: Default::default(),
            file: Mutex::new(None),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `request`'s next recorded outcome for `asker` (`Err`), waiting while another thread asks
    /// it; else this thread's turn to ask it (`Ok`).
    fn turn<'a>(
        &'a self,
        request: &'a str,
        asker: Option<u64>,
    ) -> Result<Asking<'a>, Result<String, String>> {
        let (asking, answered) = &self.asking;
        let mut asked = lock(asking);
        loop {
            if let Some(recorded) = self.get(request, asker) {
                return Err(recorded);
            }
            if asked.insert(request.to_owned()) {
                return Ok(Asking {
                    cache: self,
                    request,
                });
            }
            asked = answered
                .wait(asked)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// The next recorded outcome of `request` for `asker`: its next failure of that asker not
    /// yet given, else of none, else its answer.
    fn get(&self, request: &str, asker: Option<u64>) -> Option<Result<String, String>> {
        let mut recorded = lock(&self.recorded);
        let r = recorded.get_mut(request)?;
        let mut next = |asker| r.failures.get_mut(&asker)?.pop_front();
        match asker
            .and_then(|seed| next(Some(seed)))
            .or_else(|| next(None))
        {
            Some(failure) => Some(Err(failure)),
            None => r.answer.clone().map(Ok),
        }
    }

    /// Appends `request`'s answer (`Ok`) or `asker`'s failure (`Err`). An answer is kept for this
    /// run's later requests; a failure only in the file.
    fn record(
        &self,
        request: &str,
        asker: Option<u64>,
        outcome: Result<&str, &str>,
    ) -> std::io::Result<()> {
        let line = match outcome {
            Ok(answer) => {
                let mut recorded = lock(&self.recorded);
                let known = &mut recorded.entry(request.to_owned()).or_default().answer;
                if known.is_some() {
                    return Ok(());
                }
                *known = Some(answer.to_owned());
                json!({"url": self.url, "request": parsed(request), "answer": answer})
            }
            Err(failure) => match asker {
                Some(seed) => json!({
                    "url": self.url, "request": parsed(request), "asker": seed, "failure": failure
                }),
                None => json!({"url": self.url, "request": parsed(request), "failure": failure}),
            },
        };
        let mut file = lock(&self.file);
        if file.is_none() {
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            *file = Some(opened);
        }
        writeln!(file.as_mut().expect("opened above"), "{line}")
    }
}

/// A request body as JSON again (it was made from JSON).
fn parsed(request: &str) -> Value {
    serde_json::from_str(request).expect("the request is JSON")
}
