//! The backend's Nova Sonic client (`backend::nova_sonic::bidi_stream`) through the
//! real aws-sdk-bedrockruntime against the Bedrock mock: typed and spoken
//! turns streaming both ways, a stream reopened with its history after the
//! 8-minute limit, and each failure classified as the client must hear it.

use std::time::Duration;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{Credentials, Region};
use backend::nova_sonic::bidi_stream::{SonicError, SonicStream};
use backend::nova_sonic::output::OutputEvent;
use backend::nova_sonic::protocol::PromptSettings;
use backend::nova_sonic::turns::{Delivery, TurnTracker};
use mocks::bedrock::{BedrockConfig, BedrockFault, BedrockMock, FaultRule, StreamState};
use mocks::speech::{self, Vad, VadConfig, VadEvent};

const SONIC: &str = "amazon.nova-2-sonic-v1:0";
const PROMPT: &str = "You are Buddy, a kind companion for John.\nPatient facts:\n\
    - Sarah is your daughter.\n\
    - Your morning routine (at 8:00 am): take your pill, then eat breakfast.\n";
const WAIT: Duration = Duration::from_secs(20);

async fn mock(time_scale: f64) -> BedrockMock {
    BedrockMock::start(BedrockConfig {
        time_scale,
        ..BedrockConfig::default()
    })
    .await
    .expect("mock starts")
}

fn client(base_url: &str) -> Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version_latest()
        .endpoint_url(base_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

async fn open(
    client: &Client,
    model: &str,
    history: &[backend::nova_sonic::protocol::HistoryLine],
) -> Result<SonicStream, SonicError> {
    SonicStream::open(
        client,
        model,
        PromptSettings::new("p1", "matthew"),
        PROMPT,
        history,
        Duration::from_secs(10),
    )
    .await
}

/// Deliveries until the turn's usage event.
async fn turn(stream: &mut SonicStream, tracker: &mut TurnTracker) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    loop {
        let event = tokio::time::timeout(WAIT, stream.next_event())
            .await
            .expect("an event in time")
            .expect("the stream is open")
            .expect("no stream error");
        let done = matches!(event, OutputEvent::Usage(_));
        deliveries.extend(tracker.on_event(event));
        if done {
            return deliveries;
        }
    }
}

fn texts(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter_map(|d| match d {
            Delivery::AssistantText(t) => Some(format!("A: {t}")),
            Delivery::UserTranscript(t) => Some(format!("U: {t}")),
            _ => None,
        })
        .collect()
}

fn audio_bytes(deliveries: &[Delivery]) -> usize {
    deliveries
        .iter()
        .map(|d| match d {
            Delivery::AssistantAudio(pcm) => pcm.len(),
            _ => 0,
        })
        .sum()
}

/// Speech then silence, and the speech time the detector measures in it.
fn utterance(text: &str) -> (Vec<u8>, Duration) {
    let mut samples = speech::synthesize(text, 16_000);
    samples.truncate(16 * 1_800);
    samples.extend(speech::silence(Duration::from_millis(1_000), 16_000));
    let speech = Vad::new(VadConfig::default())
        .push(&samples)
        .into_iter()
        .find_map(|event| match event {
            VadEvent::SpeechEnd { speech, .. } => Some(speech),
            VadEvent::SpeechStart { .. } => None,
        })
        .expect("an utterance");
    (speech::pcm16_to_bytes(&samples), speech)
}

async fn first_error(stream: &mut SonicStream) -> SonicError {
    loop {
        match tokio::time::timeout(WAIT, stream.next_event()).await {
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(error))) => return error,
            Ok(None) => panic!("the stream ended without an error"),
            Err(_) => panic!("no error in time"),
        }
    }
}

#[tokio::test]
async fn a_typed_turn_is_answered_with_text_and_24_khz_audio() {
    let mock = mock(20.0).await;
    let client = client(&mock.base_url());
    let mut stream = open(&client, SONIC, &[]).await.expect("opens");
    let mut tracker = TurnTracker::new();
    tracker.typed("Who is Sarah?");
    stream.send_text_turn("Who is Sarah?").unwrap();
    let deliveries = turn(&mut stream, &mut tracker).await;
    assert_eq!(
        texts(&deliveries),
        ["A: Sarah is your daughter."],
        "no echo, one answer"
    );
    assert_eq!(
        audio_bytes(&deliveries),
        speech::synthesize("Sarah is your daughter.", 24_000).len() * 2
    );
    stream.end_input();
    while let Some(event) = tokio::time::timeout(WAIT, stream.next_event())
        .await
        .unwrap()
    {
        event.expect("a clean end");
    }
    let streams = mock.streams();
    assert_eq!(streams[0].state, StreamState::Ended);
    assert_eq!(streams[0].system_prompt, PROMPT);
    mock.stop().await;
}

#[tokio::test]
async fn spoken_audio_is_answered_while_the_microphone_stays_open() {
    let mock = mock(10.0).await;
    let (pcm, speech_time) = utterance("who is sarah please tell me now");
    mock.add_transcript(speech_time, "Who is Sarah?");
    let client = client(&mock.base_url());
    let mut stream = open(&client, SONIC, &[]).await.expect("opens");
    let mut tracker = TurnTracker::new();
    for piece in pcm.chunks(3_200) {
        stream.send_audio(piece).unwrap();
    }
    assert!(stream.audio_open());
    let deliveries = turn(&mut stream, &mut tracker).await;
    assert_eq!(
        texts(&deliveries),
        ["U: Who is Sarah?", "A: Sarah is your daughter."]
    );
    assert!(audio_bytes(&deliveries) > 0);
    assert!(tracker.lines()[0].spoken);
    mock.stop().await;
}

#[tokio::test]
async fn a_stream_at_its_time_limit_reopens_with_the_conversation_as_history() {
    let mock = mock(20.0).await;
    // 4 s of scenario time: 200 ms here, after the first answer.
    mock.add_fault(FaultRule::once(BedrockFault::ModelTimeout {
        after_ms: 4_000,
    }));
    let client = client(&mock.base_url());
    let mut stream = open(&client, SONIC, &[]).await.expect("opens");
    let mut tracker = TurnTracker::new();
    tracker.typed("Who is Sarah?");
    stream.send_text_turn("Who is Sarah?").unwrap();
    turn(&mut stream, &mut tracker).await;
    assert!(matches!(
        first_error(&mut stream).await,
        SonicError::StreamLimit(_)
    ));

    tracker.stream_reopened();
    let history = tracker.history();
    assert_eq!(history.len(), 2);
    let mut reopened = open(&client, SONIC, &history).await.expect("reopens");
    // History went before the audio: the model accepts audio and answers.
    let (pcm, speech_time) = utterance("what do i do this morning then");
    mock.add_transcript(speech_time, "What do I do this morning?");
    reopened.send_audio(&pcm).unwrap();
    let deliveries = turn(&mut reopened, &mut tracker).await;
    assert_eq!(
        texts(&deliveries)[1],
        "A: Your morning routine (at 8:00 am): take your pill, then eat breakfast."
    );
    reopened.end_input();
    while let Some(event) = tokio::time::timeout(WAIT, reopened.next_event())
        .await
        .unwrap()
    {
        event.expect("a clean end");
    }
    let streams = mock.streams();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].state, StreamState::TimedOut);
    assert_eq!(streams[1].state, StreamState::Ended);
    mock.stop().await;
}

#[tokio::test]
async fn failures_are_classified_for_the_client() {
    let mock = mock(20.0).await;
    let client = client(&mock.base_url());

    mock.set_model_access(SONIC, false);
    let denied = open(&client, SONIC, &[]).await.unwrap_err();
    assert!(
        matches!(denied, SonicError::ModelNotAvailable(_)),
        "{denied:?}"
    );
    mock.set_model_access(SONIC, true);

    let wrong_model = open(&client, "amazon.nova-sonic-v9:0", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(wrong_model, SonicError::ModelNotAvailable(_)),
        "{wrong_model:?}"
    );

    mock.add_fault(FaultRule::once(BedrockFault::Throttling {
        before_stream: true,
    }));
    let throttled = open(&client, SONIC, &[]).await.unwrap_err();
    assert!(
        matches!(throttled, SonicError::Throttled(_)),
        "{throttled:?}"
    );

    mock.add_fault(FaultRule::once(BedrockFault::StreamError));
    let mut stream = open(&client, SONIC, &[]).await.expect("opens");
    stream.send_text_turn("Who is Sarah?").unwrap();
    assert!(matches!(
        first_error(&mut stream).await,
        SonicError::Failed(_)
    ));

    mock.add_fault(FaultRule::once(BedrockFault::Validation {
        before_stream: false,
    }));
    let mut stream = open(&client, SONIC, &[]).await.expect("opens");
    assert!(matches!(
        first_error(&mut stream).await,
        SonicError::Validation(_)
    ));
    mock.stop().await;
}
