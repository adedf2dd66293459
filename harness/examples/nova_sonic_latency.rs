//! First-text and first-audio latency of Nova Sonic turns through the local
//! stack: the real `buddy` binary behind the API Gateway emulator, DynamoDB
//! Local, the relay, aws-sdk-bedrockruntime and the Bedrock mock.
//!
//! - typed turns: from sending `textInput` to the first `textOutput` of the
//!   answer (first text) and to its first `audioOutput` (first audio);
//! - spoken turns: John's question streamed as `audioInput` at real-time
//!   pace, then a second of silence; from the end of his speech to the first
//!   ASSISTANT `textOutput` and to the first `audioOutput` (this includes the
//!   800 ms of silence that tell the model he has finished, and the relay's
//!   jitter buffer, `RELAY_SETTLE_MS`).
//!
//! ```console
//! $ cargo run -p harness --example nova_sonic_latency -- --typed 60 --spoken 10
//! ```
//!
//! Figures are HDR histograms in microseconds, printed as milliseconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use harness::stack::{LocalStack, StackOptions};
use harness::time_scale::TimeScale;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Measure Nova Sonic turn latency through the local stack.
#[derive(Debug, Parser)]
struct Args {
    /// Typed turns to measure.
    #[arg(long, default_value_t = 60)]
    typed: u32,
    /// Spoken turns to measure.
    #[arg(long, default_value_t = 10)]
    spoken: u32,
    /// Time scale of the stack (paces the mock's voice, shrinks time limits).
    #[arg(long, default_value = "10")]
    time_scale: TimeScale,
    /// Do not build the backend's binaries first.
    #[arg(long)]
    no_build: bool,
}

const QUESTIONS: &[&str] = &[
    "Who is Sarah?",
    "What do I do this morning?",
    "Who is Tom?",
    "Where do I live?",
    "What is my cat called?",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness sits in the workspace")
        .to_path_buf()
}

/// `target/<profile>`: the directory above this example's executable.
fn functions_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    while dir
        .file_name()
        .is_some_and(|name| name == "examples" || name == "deps")
    {
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    dir
}

fn build_backend(functions_dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "-p",
            "backend",
            "--bins",
            "--manifest-path",
        ])
        .arg(workspace().join("Cargo.toml"));
    if functions_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    if let Some(target) = functions_dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    if !command.status()?.success() {
        bail!("cargo build -p backend --bins failed");
    }
    Ok(())
}

/// The next JSON message within `limit` (`None` when none came).
async fn next(socket: &mut Socket, limit: Duration) -> anyhow::Result<Option<Value>> {
    loop {
        match tokio::time::timeout(limit, socket.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => bail!("the socket closed"),
            Ok(Some(message)) => {
                if let Message::Text(text) = message? {
                    return Ok(Some(serde_json::from_str(&text)?));
                }
            }
        }
    }
}

/// Reads until the server has been quiet for `quiet` (the answer's audio is over).
async fn drain(socket: &mut Socket, quiet: Duration) -> anyhow::Result<()> {
    while next(socket, quiet).await?.is_some() {}
    Ok(())
}

/// Times from `start` to the first ASSISTANT text and the first audio.
async fn first_text_and_audio(
    socket: &mut Socket,
    start: Instant,
) -> anyhow::Result<(Duration, Duration)> {
    let (mut text, mut audio) = (None, None);
    while text.is_none() || audio.is_none() {
        let message = next(socket, Duration::from_secs(30))
            .await?
            .context("no answer within 30 s")?;
        match message["type"].as_str() {
            Some("textOutput") if message["role"] == "ASSISTANT" => {
                text.get_or_insert(start.elapsed());
            }
            Some("audioOutput") => {
                audio.get_or_insert(start.elapsed());
            }
            Some("error") | Some("sessionEnded") => bail!("Buddy ended the turn: {message}"),
            _ => {}
        }
    }
    Ok((text.unwrap_or_default(), audio.unwrap_or_default()))
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")
}

fn record(histogram: &mut Histogram<u64>, value: Duration) {
    let _ = histogram.record(value.as_micros().max(1) as u64);
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn line(label: &str, histogram: &Histogram<u64>) -> String {
    format!(
        "| {label} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        histogram.len(),
        ms(histogram, 0.5),
        ms(histogram, 0.95),
        ms(histogram, 0.99),
        histogram.max() as f64 / 1000.0
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let functions_dir = functions_dir();
    if !args.no_build {
        build_backend(&functions_dir)?;
    }
    let mut options = StackOptions::new(workspace().join("backend").join("template.yaml"));
    options.functions_dir = functions_dir;
    options.time_scale = args.time_scale;
    let stack = LocalStack::start(options).await?;
    let result = measure(&stack, &args).await;
    stack.stop().await;
    result
}

/// A connection with a Buddy session for pt-001; records the initSession time.
async fn session(url: &str, init: &mut Histogram<u64>) -> anyhow::Result<Socket> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await?;
    let start = Instant::now();
    socket
        .send(Message::text(
            json!({"action": "initSession", "patientId": "pt-001"}).to_string(),
        ))
        .await?;
    let ready = next(&mut socket, Duration::from_secs(30))
        .await?
        .context("no answer to initSession")?;
    if ready["status"] != "initialized" {
        bail!("initSession answered {ready}");
    }
    record(init, start.elapsed());
    Ok(socket)
}

async fn measure(stack: &LocalStack, args: &Args) -> anyhow::Result<()> {
    let url = stack
        .websocket("BuddyWebSocketApi")
        .context("the Buddy API is in the template")?
        .url();
    let mut init = histogram();
    let mut socket = session(&url, &mut init).await?;
    let (mut typed_text, mut typed_audio) = (histogram(), histogram());
    for turn in 0..args.typed {
        // A session lives inside one invocation (90 s at time scale 10): a new one every 20 turns.
        if turn > 0 && turn % 20 == 0 {
            socket.close(None).await?;
            socket = session(&url, &mut init).await?;
        }
        let question = QUESTIONS[turn as usize % QUESTIONS.len()];
        let message = json!({"action": "textInput", "text": question}).to_string();
        let start = Instant::now();
        socket.send(Message::text(message)).await?;
        let (text, audio) = first_text_and_audio(&mut socket, start).await?;
        record(&mut typed_text, text);
        record(&mut typed_audio, audio);
        drain(&mut socket, Duration::from_millis(400)).await?;
    }

    // Spoken turns: a synthetic voice whose speech time the mock recognises.
    let mut samples = mocks::speech::synthesize("who is sarah please tell me", 16_000);
    samples.truncate(16 * 1_800);
    let silence = mocks::speech::silence(Duration::from_millis(1_000), 16_000);
    let mut detector = mocks::speech::Vad::new(mocks::speech::VadConfig::default());
    let mut whole = samples.clone();
    whole.extend(&silence);
    let speech = detector
        .push(&whole)
        .into_iter()
        .find_map(|event| match event {
            mocks::speech::VadEvent::SpeechEnd { speech, .. } => Some(speech),
            mocks::speech::VadEvent::SpeechStart { .. } => None,
        })
        .context("the synthetic question is speech")?;
    stack
        .mocks()
        .bedrock
        .add_transcript(speech, "Who is Sarah?");
    // A fresh session: each lives within one function invocation.
    socket.close(None).await?;
    let mut socket = session(&url, &mut init).await?;
    let (mut spoken_text, mut spoken_audio) = (histogram(), histogram());
    for _ in 0..args.spoken {
        let mut end_of_speech = Instant::now();
        for (part, is_speech) in [(&samples, true), (&silence, false)] {
            for chunk in part.chunks(1_600) {
                let audio = base64::engine::general_purpose::STANDARD
                    .encode(mocks::speech::pcm16_to_bytes(chunk));
                let message = json!({"action": "audioInput", "audio": audio}).to_string();
                socket.send(Message::text(message)).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if is_speech {
                end_of_speech = Instant::now();
            }
        }
        let (text, audio) = first_text_and_audio(&mut socket, end_of_speech).await?;
        record(&mut spoken_text, text);
        record(&mut spoken_audio, audio);
        drain(&mut socket, Duration::from_millis(600)).await?;
    }
    socket
        .send(Message::text(json!({"action": "endSession"}).to_string()))
        .await?;
    drain(&mut socket, Duration::from_millis(500)).await?;

    println!(
        "Nova Sonic (Buddy) latency through the local stack, time scale {}, ms\n",
        args.time_scale.factor()
    );
    println!("| measure | n | p50 | p95 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    println!("{}", line("initSession -> initialized", &init));
    println!("{}", line("typed turn: first text", &typed_text));
    println!("{}", line("typed turn: first audio", &typed_audio));
    println!(
        "{}",
        line("spoken turn (from end of speech): first text", &spoken_text)
    );
    println!(
        "{}",
        line(
            "spoken turn (from end of speech): first audio",
            &spoken_audio
        )
    );
    Ok(())
}
