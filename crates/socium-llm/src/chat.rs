//! The OpenAI chat-completions protocol over HTTP (what vLLM, llama.cpp's server, Ollama and
//! LiteLLM serve), with a cache of answers keyed by the whole request.

use serde_json::Value;
use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChatError {
    /// Worth trying again: no connection, a timeout, a server error (5xx, 408, 429), or a reply
    /// that is not a chat completion.
    #[error("{0}")]
    Transient(String),
    /// Not worth trying again: the server refused the request (another 4xx: a wrong model,
    /// URL or key). The run stops with this message.
    #[error("{0}")]
    Refused(String),
}

/// A chat-completions endpoint, with its cache.
pub struct Chat {
    agent: ureq::Agent,
    url: String,
    key: Option<String>,
    cache: Option<Cache>,
}

impl Chat {
    /// `base_url` up to and without `/chat/completions` (e.g. `http://127.0.0.1:8080/v1`).
    pub fn new(
        base_url: &str,
        key: Option<String>,
        timeout: Duration,
        cache: Option<Cache>,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Chat {
            agent,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            key,
            cache,
        }
    }

    /// The answer's text to `request` (a chat-completions body): from the cache if it holds
    /// it, else from the server (and then recorded in the cache).
    pub fn complete(&self, request: &Value) -> Result<String, ChatError> {
        let key = request.to_string();
        if let Some(answer) = self.cache.as_ref().and_then(|c| c.get(&key)) {
            return Ok(answer);
        }
        let mut call = self.agent.post(&self.url).content_type("application/json");
        if let Some(k) = &self.key {
            call = call.header("Authorization", format!("Bearer {k}"));
        }
        let transient = |e: ureq::Error| ChatError::Transient(format!("{}: {e}", self.url));
        let mut response = call.send(key.as_str()).map_err(transient)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(transient)?;
        if status != 200 {
            let said = body.chars().take(200).collect::<String>();
            let message = format!("{} answered HTTP {status}: {said}", self.url);
            return Err(match status {
                408 | 429 | 500.. => ChatError::Transient(message),
                _ => ChatError::Refused(message),
            });
        }
        let content = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| {
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                let said = body.chars().take(200).collect::<String>();
                ChatError::Transient(format!(
                    "{} answered with no `choices[0].message.content`: {said}",
                    self.url
                ))
            })?;
        if let Some(cache) = &self.cache {
            cache.record(&key, &content).map_err(|e| {
                ChatError::Refused(format!(
                    "{}: cannot record the answer: {e}",
                    cache.path.display()
                ))
            })?;
        }
        Ok(content)
    }
}

/// Answers by request, read from a JSON-lines file (`{"request": ..., "answer": "..."}`) and
/// appended to as new answers come: a run with the cache and no server replays the run that
/// recorded it.
pub struct Cache {
    path: PathBuf,
    answers: Mutex<HashMap<String, String>>,
    /// Opened for appending at the first new answer: loading a scenario writes nothing.
    file: Mutex<Option<File>>,
}

impl Cache {
    /// Reads the cache file, if it exists (it is created at the first answer to record).
    pub fn open(path: &Path) -> Result<Cache, String> {
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut answers = HashMap::new();
        if path.exists() {
            let file = File::open(path).map_err(fail)?;
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(fail)?;
                if line.trim().is_empty() {
                    continue;
                }
                let entry: Value = serde_json::from_str(&line)
                    .map_err(|e| format!("{}:{}: not a cache line: {e}", path.display(), i + 1))?;
                match (entry.get("request"), entry["answer"].as_str()) {
                    (Some(request), Some(answer)) => {
                        answers.insert(request.to_string(), answer.to_owned());
                    }
                    _ => {
                        return Err(format!(
                            "{}:{}: expected {{\"request\": ..., \"answer\": \"...\"}}",
                            path.display(),
                            i + 1
                        ));
                    }
                }
            }
        }
        Ok(Cache {
            path: path.to_owned(),
            answers: Mutex::new(answers),
            file: Mutex::new(None),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn get(&self, request: &str) -> Option<String> {
        let answers = self
            .answers
            .lock()
            .expect("the cache lock is never poisoned");
        answers.get(request).cloned()
    }

    fn record(&self, request: &str, answer: &str) -> std::io::Result<()> {
        let mut answers = self
            .answers
            .lock()
            .expect("the cache lock is never poisoned");
        if answers
            .insert(request.to_owned(), answer.to_owned())
            .is_none()
        {
            let line = serde_json::json!({
                "request": serde_json::from_str::<Value>(request).expect("the request is JSON"),
                "answer": answer,
            });
            let mut file = self.file.lock().expect("the cache lock is never poisoned");
            if file.is_none() {
                let opened = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                *file = Some(opened);
            }
            writeln!(file.as_mut().expect("opened above"), "{line}")?;
        }
        Ok(())
    }
}
