//! Properties of every parser of external input in the backend, on inputs
//! shaped like the real ones as well as on noise: any body into any
//! WebSocket route's parser (speaking, Buddy, nova-sonic-stream, chat) gives
//! a message or a clear error (one line, starting as the seeds' errors do),
//! never a panic; any audio payload (WAV headers with any format, channel
//! count, rate, bit depth and length; raw PCM; broken base64) is decoded to
//! a bounded number of samples or refused with "Invalid audio"; any token is
//! refused by the chat authorizer's verifier; any method, path and body of
//! the HTTP API gets a route or a 4xx problem; any bytes through the
//! event-stream frame decoder and Nova Sonic's output parser are errors,
//! never panics.

use backend::http_api::input::ApiRequest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Field names the routes read, so generated objects hit real code paths.
const FIELDS: [&str; 16] = [
    "action",
    "type",
    "user_id",
    "country_code",
    "assessment_type",
    "preferred_region",
    "audio",
    "mime_type",
    "patientId",
    "text",
    "sampleRate",
    "data",
    "message",
    "sessionId",
    "voice",
    "x",
];

/// Actions and types the routes know (and a few they do not).
const ACTIONS: [&str; 14] = [
    "start_speaking",
    "audio_chunk",
    "end_speaking",
    "initSession",
    "textInput",
    "audioInput",
    "endSession",
    "nova-sonic-stream",
    "chat_message",
    "ping",
    "start",
    "audio",
    "end",
    "$default",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        proptest::sample::select(&ACTIONS[..]).prop_map(|a| json!(a)),
        "\\PC{0,24}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(|b| json!(STANDARD.encode(b))),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        proptest::sample::select(&FIELDS[..]).prop_map(str::to_owned),
                        "[a-z]{1,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Bodies: noise, any JSON, and objects with a known action and random fields.
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        json_value().prop_map(|v| v.to_string()),
        (
            proptest::sample::select(&ACTIONS[..]),
            proptest::collection::vec((proptest::sample::select(&FIELDS[..]), leaf()), 0..6),
        )
            .prop_map(|(action, fields)| {
                let mut object: Map<String, Value> =
                    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                object.insert("action".into(), json!(action));
                object.insert("type".into(), json!(action));
                Value::Object(object).to_string()
            }),
    ]
}

/// A clear error: one non-empty line that starts as the seeds' errors do.
fn assert_clear(route: &str, body: &str, error: &str) {
    assert!(
        !error.trim().is_empty() && !error.contains('\n'),
        "{route}: {error:?} for {body:?}"
    );
    assert!(
        ["Invalid message", "Unknown ", "Invalid audio"]
            .iter()
            .any(|p| error.starts_with(p)),
        "{route}: unclear error {error:?} for {body:?}"
    );
}

/// A WAV file with these header fields and `data` (whatever they say).
fn wav(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    declared: Option<u32>,
    data: &[u8],
) -> Vec<u8> {
    let block = channels.wrapping_mul(bits / 8);
    let mut out = b"RIFF".to_vec();
    out.extend((36 + data.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(format.to_le_bytes());
    out.extend(channels.to_le_bytes());
    out.extend(rate.to_le_bytes());
    out.extend(rate.wrapping_mul(u32::from(block)).to_le_bytes());
    out.extend(block.to_le_bytes());
    out.extend(bits.to_le_bytes());
    out.extend(b"data");
    out.extend(declared.unwrap_or(data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_body_into_any_route_gives_a_message_or_a_clear_error(body in body()) {
        if let Err(e) = backend::speaking::messages::parse(&body) {
            assert_clear("speaking", &body, &e.to_string());
        }
        if let Err(e) = backend::buddy::messages::parse(&body) {
            assert_clear("buddy", &body, &e);
        }
        if let Err(e) = backend::maya_nova_sonic::messages::parse(&body) {
            assert_clear("nova-sonic-stream", &body, &e);
        }
        if let Err(e) = backend::chat::messages::parse(&body) {
            assert_clear("chat", &body, &e.to_string());
            prop_assert!(!e.code().as_str().is_empty());
        }
    }

    #[test]
    fn any_wav_header_is_decoded_within_bounds_or_refused(
        format in prop_oneof![Just(1u16), Just(3), Just(0xFFFE), any::<u16>()],
        channels in prop_oneof![0u16..9, any::<u16>()],
        rate in prop_oneof![Just(8_000u32), Just(16_000), Just(44_100), Just(192_000), 7_999u32..8_001, 191_999u32..192_002, any::<u32>()],
        bits in prop_oneof![Just(8u16), Just(16), Just(24), Just(32), any::<u16>()],
        declared in proptest::option::of(any::<u32>()),
        data in proptest::collection::vec(any::<u8>(), 0..512),
        mime in proptest::sample::select(vec![None, Some("audio/wav"), Some("audio/x-wav")]),
    ) {
        let bytes = wav(format, channels, rate, bits, declared, &data);
        match backend::audio::decode_chunk(&STANDARD.encode(&bytes), mime) {
            Ok(samples) => prop_assert!(samples.len() <= 2 * bytes.len() + 4096, "{} samples from {} bytes", samples.len(), bytes.len()),
            Err(e) => assert_clear("audio", "wav", &e.to_string()),
        }
    }

    #[test]
    fn any_audio_text_and_mime_is_decoded_or_refused(
        text in prop_oneof![
            "\\PC{0,64}",
            "[A-Za-z0-9+/=\\s]{0,64}",
            proptest::collection::vec(any::<u8>(), 0..128).prop_map(|b| STANDARD.encode(b)),
        ],
        mime in proptest::option::of(prop_oneof![
            "audio/pcm;rate=[0-9]{0,7}",
            "[a-z/;=0-9 ]{0,20}",
            Just("audio/pcm".to_owned()),
        ]),
    ) {
        if let Err(e) = backend::audio::decode_chunk(&text, mime.as_deref()) {
            assert_clear("audio", &text, &e.to_string());
        }
    }

    #[test]
    fn any_token_is_refused_by_the_verifier(
        header in json_value(),
        alg in proptest::sample::select(vec!["none", "HS256", "RS256", "HS512", "ES256", ""]),
        claims in json_value(),
        signature in proptest::collection::vec(any::<u8>(), 0..64),
        raw in "\\PC{0,120}",
    ) {
        let mut header = header;
        if let Some(object) = header.as_object_mut() {
            object.insert("alg".into(), json!(alg));
        }
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let _ = backend::chat::jwt::read_header(&token);
        let _ = backend::chat::jwt::read_header(&raw);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let verifier = backend::chat::jwt::Verifier::new(
            backend::chat::jwt::JwtSettings {
                issuer: "https://identity.speechgate.local".into(),
                audience: "chat".into(),
                leeway_seconds: 30,
            },
            Some(backend::chat::keys::HmacSecret::configured(b"property-secret-0123456789abcdef")),
            Some(backend::chat::keys::JwksCache::fixed(jsonwebtoken::jwk::JwkSet { keys: Vec::new() })),
        );
        prop_assert!(runtime.block_on(verifier.verify(&token)).is_err());
        prop_assert!(runtime.block_on(verifier.verify(&raw)).is_err());
    }

    #[test]
    fn any_http_request_gets_a_route_or_a_4xx_problem(
        method in prop_oneof![proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]).prop_map(str::to_owned), "[A-Za-z]{0,8}"],
        path in prop_oneof![
            "(/api(/(auth|assessments|admin|qr|gdpr|reports|profile|users|questions|rubrics|mobile|purchases|x|%2e%2e|\\.\\.|))){0,5}",
            "\\PC{0,40}",
        ],
        body in proptest::collection::vec(any::<u8>(), 0..300),
        content_type in proptest::sample::select(vec!["application/json", "application/json; charset=utf-8", "text/plain", "", "application/problem+json"]),
    ) {
        if let Err(e) = backend::http_api::router::resolve(&method, &path) {
            prop_assert!((400..500).contains(&e.status()), "{method} {path}: {}", e.status());
        }
        let mut request = ApiRequest { method, path, body, ..ApiRequest::default() };
        if let Ok(value) = content_type.parse() {
            request.headers.insert(http::header::CONTENT_TYPE, value);
        }
        for limit in [16, 100 * 1024] {
            if let Err(e) = request.json::<Value>(limit) {
                prop_assert!((400..500).contains(&e.status()));
                prop_assert!(!e.detail().is_empty());
            }
        }
    }

    #[test]
    fn any_bytes_through_the_event_stream_decoder_and_output_parser_are_errors_not_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        event in json_value(),
        flip in any::<prop::sample::Index>(),
    ) {
        use mocks::bedrock::eventstream::{FrameDecoder, client_event, encode_client_event, server_frame};
        for input in [bytes.clone(), event.to_string().into_bytes()] {
            if let Err(error) = backend::nova_sonic::output::parse_output(&input) {
                prop_assert!(!error.0.trim().is_empty());
            }
        }
        // A real frame with one byte changed, then noise.
        let mut frame = encode_client_event(&json!({"event": event})).to_vec();
        let at = flip.index(frame.len());
        frame[at] ^= 0x5a;
        for input in [&frame, &bytes] {
            let mut decoder = FrameDecoder::new();
            decoder.push(input);
            while let Ok(Some(message)) = decoder.next_message() {
                let _ = client_event(&message);
                let _ = server_frame(&message);
            }
        }
    }
}
