//! A small interpreter of scenario steps for the Nova Sonic tests: runs the
//! scenario files and conformance suites (the format of
//! `harness::scenario::model`) against the local stack, checking every
//! message received against the API's AsyncAPI document. It stands in until
//! the harness's own replay engine runs these files; it implements the steps
//! these files use (connect, send, stream audio or silence, expect, expect a
//! close, wait, disconnect, repeat).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::scenario::audio::{Clip, encode_chunk};
use harness::scenario::matching::matches;
use harness::scenario::model::{Case, Expect, Matcher, Step};
use harness::scenario::template::{Vars, render, render_value};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Spec;
use crate::support::Socket;

/// Default deadline of an `expect` without one.
const DEFAULT_WITHIN: Duration = Duration::from_secs(10);

/// Where and how steps run.
pub struct Runner<'a> {
    /// The API's URL (`ws://127.0.0.1:PORT/{stage}`).
    pub url: String,
    /// The API's contract.
    pub spec: &'a Spec,
    /// The directory of the file (clips are relative to it).
    pub dir: PathBuf,
    /// The stack's time scale.
    pub time_scale: f64,
    /// Messages that may arrive at any time.
    pub tolerate: Vec<BTreeMap<String, Matcher>>,
    /// Variables.
    pub vars: Vars,
}

/// One session's state.
struct Session {
    socket: Option<Socket>,
    /// What happened, for failure reports.
    log: Vec<String>,
    /// A close frame already received (code).
    closed: Option<Option<u16>>,
}

impl Runner<'_> {
    /// Runs a session of steps; the error says which step failed and why,
    /// with the wire transcript.
    pub async fn run(&mut self, steps: &[Step], expect_close: Option<u16>) -> Result<(), String> {
        let mut session = Session {
            socket: None,
            log: Vec::new(),
            closed: None,
        };
        let result = async {
            self.steps(&mut session, steps).await?;
            match expect_close {
                Some(code) => {
                    self.expect_close(&mut session, Some(code), DEFAULT_WITHIN)
                        .await
                }
                None => Ok(()),
            }
        }
        .await;
        if let Some(mut socket) = session.socket.take() {
            let _ = socket.close(None).await;
        }
        result.map_err(|e| format!("{e}\n  wire:\n    {}", session.log.join("\n    ")))
    }

    /// Runs a conformance case on a fresh connection.
    pub async fn case(&mut self, case: &Case) -> Result<(), String> {
        self.run(&case.steps, case.close).await
    }

    fn steps<'s>(
        &'s mut self,
        session: &'s mut Session,
        steps: &'s [Step],
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + 's>> {
        Box::pin(async move {
            for (index, step) in steps.iter().enumerate() {
                self.step(session, step)
                    .await
                    .map_err(|e| format!("step {} ({}): {e}", index + 1, step_name(step)))?;
            }
            Ok(())
        })
    }

    async fn step(&mut self, session: &mut Session, step: &Step) -> Result<(), String> {
        match step {
            Step::Connect(connect) => {
                let mut url = self.url.clone();
                if !connect.query.is_empty() {
                    let query: Vec<String> = connect
                        .query
                        .iter()
                        .map(|(k, v)| Ok(format!("{k}={}", render(v, &self.vars)?)))
                        .collect::<Result<_, harness::scenario::template::TemplateError>>()
                        .map_err(|e| e.to_string())?;
                    url = format!("{url}?{}", query.join("&"));
                }
                let mut request = url.into_client_request().map_err(|e| e.to_string())?;
                for (name, value) in &connect.headers {
                    let value = render(value, &self.vars).map_err(|e| e.to_string())?;
                    request.headers_mut().insert(
                        http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?,
                        value
                            .parse()
                            .map_err(|_| format!("bad header value {value:?}"))?,
                    );
                }
                let expected = connect.expect_status.unwrap_or(101);
                match tokio_tungstenite::connect_async(request).await {
                    Ok((socket, _)) if expected == 101 => {
                        session.log.push("connected".to_owned());
                        session.socket = Some(socket);
                        session.closed = None;
                        Ok(())
                    }
                    Ok(_) => Err(format!("the handshake succeeded; expected {expected}")),
                    Err(tokio_tungstenite::tungstenite::Error::Http(response))
                        if response.status().as_u16() == expected =>
                    {
                        session.log.push(format!("refused {expected}"));
                        Ok(())
                    }
                    Err(e) => Err(format!("connect: {e}")),
                }
            }
            Step::Send(send) => {
                let message = if let Some(value) = &send.message {
                    Message::text(
                        render_value(value, &self.vars)
                            .map_err(|e| e.to_string())?
                            .to_string(),
                    )
                } else if let Some(raw) = &send.raw {
                    Message::text(render(raw, &self.vars).map_err(|e| e.to_string())?)
                } else {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(send.binary_base64.as_deref().unwrap_or_default())
                        .map_err(|e| e.to_string())?;
                    Message::binary(bytes)
                };
                session.log.push(format!("> {}", brief(&message)));
                socket(session)?
                    .send(message)
                    .await
                    .map_err(|e| e.to_string())
            }
            Step::StreamAudio(stream) => {
                let clip = Clip::read(&self.dir.join(&stream.file)).map_err(|e| e.to_string())?;
                self.stream(
                    session,
                    &clip,
                    stream.chunk_ms,
                    stream.format,
                    &stream.message,
                )
                .await
            }
            Step::StreamSilence(stream) => {
                let clip = Clip::silence(stream.duration.0, stream.sample_rate);
                self.stream(
                    session,
                    &clip,
                    stream.chunk_ms,
                    stream.format,
                    &stream.message,
                )
                .await
            }
            Step::Expect(expect) => self.expect(session, expect).await,
            Step::ExpectClose(close) => {
                let within = close
                    .within
                    .map(|s| s.0)
                    .or(close.within_scenario.map(|s| s.0.div_f64(self.time_scale)))
                    .unwrap_or(DEFAULT_WITHIN);
                self.expect_close(session, close.code, within).await
            }
            Step::Wait(span) => {
                tokio::time::sleep(span.0.div_f64(self.time_scale)).await;
                Ok(())
            }
            Step::Disconnect(disconnect) => {
                let frame = disconnect.code.map(|code| CloseFrame {
                    code: CloseCode::from(code),
                    reason: "".into(),
                });
                session.log.push(format!("> close {:?}", disconnect.code));
                let result = socket(session)?.close(frame).await;
                session.socket = None;
                result.map_err(|e| e.to_string())
            }
            Step::Repeat(repeat) => {
                for _ in 0..repeat.times {
                    self.steps(session, &repeat.steps).await?;
                }
                Ok(())
            }
        }
    }

    async fn stream(
        &mut self,
        session: &mut Session,
        clip: &Clip,
        chunk_ms: u32,
        format: harness::scenario::model::ChunkFormat,
        template: &Value,
    ) -> Result<(), String> {
        let pace = Duration::from_millis(u64::from(chunk_ms)).div_f64(self.time_scale);
        let mut sent = 0;
        for chunk in clip.chunks(chunk_ms) {
            let (audio, mime) = encode_chunk(chunk, clip.sample_rate, format);
            let mut vars = self.vars.clone();
            vars.insert("chunk".to_owned(), audio);
            vars.insert("mime_type".to_owned(), mime);
            let message = render_value(template, &vars).map_err(|e| e.to_string())?;
            socket(session)?
                .send(Message::text(message.to_string()))
                .await
                .map_err(|e| e.to_string())?;
            sent += 1;
            tokio::time::sleep(pace).await;
        }
        session.log.push(format!("> {sent} audio chunks"));
        Ok(())
    }

    async fn expect(&mut self, session: &mut Session, expect: &Expect) -> Result<(), String> {
        let within = expect
            .within
            .map(|s| s.0)
            .or(expect.within_scenario.map(|s| s.0.div_f64(self.time_scale)))
            .unwrap_or(DEFAULT_WITHIN);
        let deadline = tokio::time::Instant::now() + within;
        let mut fields = expect.fields.clone();
        if let Some(kind) = &expect.message_type {
            fields.insert(
                "type".to_owned(),
                Matcher::Literal(Value::String(kind.clone())),
            );
        }
        let fields: BTreeMap<String, Matcher> = fields
            .into_iter()
            .map(|(path, matcher)| match matcher {
                Matcher::Literal(value) => render_value(&value, &self.vars)
                    .map(|v| (path, Matcher::Literal(v)))
                    .map_err(|e| e.to_string()),
                other => Ok((path, other)),
            })
            .collect::<Result<_, _>>()?;
        loop {
            let message = match tokio::time::timeout_at(deadline, socket(session)?.next()).await {
                Err(_) => return Err(format!("no message matching {fields:?} within {within:?}")),
                Ok(None) | Ok(Some(Err(_))) => return Err("the socket ended".to_owned()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    session.closed = Some(frame.map(|f| u16::from(f.code)));
                    return Err(format!("closed {:?} while expecting", session.closed));
                }
                Ok(Some(Ok(Message::Text(text)))) => text.to_string(),
                Ok(Some(Ok(_))) => continue,
            };
            let value: Value =
                serde_json::from_str(&message).map_err(|_| format!("not JSON: {message}"))?;
            session
                .log
                .push(format!("< {}", brief(&Message::text(message.clone()))));
            if self.spec.matches("server", &value).is_none() {
                return Err(format!(
                    "{value} conforms to no server message of {}",
                    self.spec.file
                ));
            }
            if matches(&value, &fields)? {
                for (name, path) in &expect.capture {
                    let captured = harness::scenario::matching::lookup(&value, path)
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .ok_or_else(|| format!("nothing at {path} to capture"))?;
                    self.vars.insert(name.clone(), captured);
                }
                return Ok(());
            }
            let tolerated = self
                .tolerate
                .iter()
                .any(|t| matches(&value, t).unwrap_or(false));
            if !tolerated {
                session.log.push("  (skipped)".to_owned());
            }
        }
    }

    async fn expect_close(
        &mut self,
        session: &mut Session,
        code: Option<u16>,
        within: Duration,
    ) -> Result<(), String> {
        let got = match session.closed.take() {
            Some(got) => got,
            None => {
                let deadline = tokio::time::Instant::now() + within;
                loop {
                    match tokio::time::timeout_at(deadline, socket(session)?.next()).await {
                        Err(_) => return Err(format!("no close within {within:?}")),
                        Ok(Some(Ok(Message::Close(frame)))) => {
                            break frame.map(|f| u16::from(f.code));
                        }
                        Ok(Some(Ok(_))) => continue,
                        Ok(Some(Err(_))) | Ok(None) => break None,
                    }
                }
            }
        };
        session.log.push(format!("< close {got:?}"));
        session.socket = None;
        match code {
            Some(code) if got != Some(code) => Err(format!("closed with {got:?}, expected {code}")),
            _ => Ok(()),
        }
    }
}

fn socket(session: &mut Session) -> Result<&mut Socket, String> {
    session
        .socket
        .as_mut()
        .ok_or_else(|| "not connected".to_owned())
}

fn brief(message: &Message) -> String {
    let text = match message {
        Message::Text(text) => text.to_string(),
        Message::Binary(bytes) => format!("<{} binary bytes>", bytes.len()),
        other => format!("{other:?}"),
    };
    if text.chars().count() > 160 {
        let head: String = text.chars().take(160).collect();
        format!("{head}... ({} bytes)", text.len())
    } else {
        text
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Connect(_) => "connect",
        Step::Send(_) => "send",
        Step::StreamAudio(_) => "stream_audio",
        Step::StreamSilence(_) => "stream_silence",
        Step::Expect(_) => "expect",
        Step::ExpectClose(_) => "expect_close",
        Step::Wait(_) => "wait",
        Step::Disconnect(_) => "disconnect",
        Step::Repeat(_) => "repeat",
    }
}

/// The transcripts of every clip with a sidecar `.txt` in `dir`, keyed by
/// the speech time the mocks' detector measures in the clip (followed by a
/// second of silence, as scenarios stream it).
pub fn clip_transcripts(dir: &Path) -> Vec<(Duration, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("the audio directory")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "wav") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path.with_extension("txt")) else {
            continue;
        };
        let clip = Clip::read(&path).expect("a readable clip");
        let mut samples = clip.samples.clone();
        samples.extend(std::iter::repeat_n(0, clip.sample_rate as usize));
        let speech: Duration = mocks::speech::Vad::new(mocks::speech::VadConfig {
            sample_rate: clip.sample_rate,
            ..mocks::speech::VadConfig::default()
        })
        .push(&samples)
        .into_iter()
        .filter_map(|event| match event {
            mocks::speech::VadEvent::SpeechEnd { speech, .. } => Some(speech),
            mocks::speech::VadEvent::SpeechStart { .. } => None,
        })
        .sum();
        found.push((speech, text.trim().to_owned()));
    }
    found
}
