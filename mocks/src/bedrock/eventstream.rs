//! AWS event-stream framing as Bedrock's bidirectional stream uses it, on top
//! of `aws-smithy-eventstream` (which owns the binary format: prelude, typed
//! headers, CRC32 checks).
//!
//! - Client frames are signed envelopes (`:chunk-signature`, `:date`) whose
//!   payload is the inner message (`:message-type` event, `:event-type`
//!   chunk); the last envelope has an empty payload and is skipped.
//! - Every payload, both ways, is `{"bytes": "<base64 of the event JSON>"}`.
//! - Server errors are `:message-type` exception frames with a lowerCamel
//!   `:exception-type` and a `{"message"}` payload.

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::DateTime;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use aws_smithy_types::str_bytes::StrBytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use serde_json::Value;

/// The largest frame accepted (AWS allows 16 MiB payloads plus headers).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024 + 128 * 1024;

/// Smallest possible frame: prelude (12 bytes) plus message CRC (4 bytes).
const MIN_FRAME_LEN: usize = 16;

/// Why a frame or its payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The prelude announces a length outside what event streams allow.
    #[error("frame length {0} is out of range")]
    BadLength(usize),
    /// The binary frame is malformed (checksums, header encoding).
    #[error("malformed event-stream frame: {0}")]
    Malformed(String),
    /// A required header is missing or has the wrong type.
    #[error("header {0} is missing or not a string")]
    MissingHeader(&'static str),
    /// The inner message is not an event chunk.
    #[error("unexpected message: {0}")]
    Unexpected(String),
    /// The payload is not `{"bytes": base64}` of a JSON document.
    #[error("invalid payload: {0}")]
    BadPayload(String),
}

/// The exception types Bedrock sends inside a bidirectional stream (the SDK
/// maps exactly these lowerCamel names to its error variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamException {
    /// `validationException`: the input broke the protocol.
    Validation,
    /// `modelTimeoutException`: the session outlived its limit.
    ModelTimeout,
    /// `modelStreamErrorException`: the model failed mid-stream.
    ModelStreamError,
    /// `internalServerException`.
    InternalServer,
    /// `throttlingException`.
    Throttling,
    /// `serviceUnavailableException`.
    ServiceUnavailable,
}

impl StreamException {
    /// The `:exception-type` header value.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Validation => "validationException",
            Self::ModelTimeout => "modelTimeoutException",
            Self::ModelStreamError => "modelStreamErrorException",
            Self::InternalServer => "internalServerException",
            Self::Throttling => "throttlingException",
            Self::ServiceUnavailable => "serviceUnavailableException",
        }
    }

    /// The inverse of [`StreamException::wire_name`].
    pub fn from_wire_name(name: &str) -> Option<Self> {
        [
            Self::Validation,
            Self::ModelTimeout,
            Self::ModelStreamError,
            Self::InternalServer,
            Self::Throttling,
            Self::ServiceUnavailable,
        ]
        .into_iter()
        .find(|kind| kind.wire_name() == name)
    }
}

/// A decoded server frame (what a client of the mock sees).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    /// An output event: the event JSON `{"event": {...}}`.
    Event(Value),
    /// An exception and its message.
    Exception(StreamException, String),
}

fn string_header(name: &'static str, value: &'static str) -> Header {
    Header::new(name, HeaderValue::String(StrBytes::from(value)))
}

fn header_str<'a>(message: &'a Message, name: &'static str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|header| header.name().as_str() == name)
        .and_then(|header| header.value().as_string().ok())
        .map(StrBytes::as_str)
}

fn to_bytes(message: &Message) -> Bytes {
    let mut out = Vec::with_capacity(message.payload().len() + 128);
    // Only oversized headers or payloads fail, and the mock never builds those.
    write_message_to(message, &mut out).expect("event-stream frame within limits");
    Bytes::from(out)
}

/// `{"bytes": base64(json)}`.
fn wrap_payload(event: &Value) -> Vec<u8> {
    let inner = serde_json::to_vec(event).expect("a JSON value serializes");
    serde_json::to_vec(&serde_json::json!({ "bytes": BASE64.encode(inner) }))
        .expect("a JSON value serializes")
}

/// Reads `{"bytes": base64}` back to the event JSON.
pub fn unwrap_payload(payload: &[u8]) -> Result<Value, FrameError> {
    let outer: Value =
        serde_json::from_slice(payload).map_err(|e| FrameError::BadPayload(e.to_string()))?;
    let encoded = outer
        .get("bytes")
        .and_then(Value::as_str)
        .ok_or_else(|| FrameError::BadPayload("no \"bytes\" string".into()))?;
    let decoded = BASE64
        .decode(encoded)
        .map_err(|e| FrameError::BadPayload(e.to_string()))?;
    serde_json::from_slice(&decoded).map_err(|e| FrameError::BadPayload(e.to_string()))
}

/// A server event frame carrying `event` (`{"event": {...}}`).
pub fn encode_event(event: &Value) -> Bytes {
    let message = Message::new(wrap_payload(event))
        .add_header(string_header(":message-type", "event"))
        .add_header(string_header(":event-type", "chunk"))
        .add_header(string_header(":content-type", "application/json"));
    to_bytes(&message)
}

/// A server exception frame.
pub fn encode_exception(kind: StreamException, message: &str) -> Bytes {
    let payload = serde_json::to_vec(&serde_json::json!({ "message": message }))
        .expect("a JSON value serializes");
    let frame = Message::new(payload)
        .add_header(string_header(":message-type", "exception"))
        .add_header(string_header(":exception-type", kind.wire_name()))
        .add_header(string_header(":content-type", "application/json"));
    to_bytes(&frame)
}

/// A client frame as the SDK sends it: a signed envelope around the inner
/// event message (the signature here is a placeholder; the mock never checks it).
pub fn encode_client_event(event: &Value) -> Bytes {
    let inner = Message::new(wrap_payload(event))
        .add_header(string_header(":message-type", "event"))
        .add_header(string_header(":event-type", "chunk"))
        .add_header(string_header(":content-type", "application/json"));
    signed_envelope(to_bytes(&inner))
}

/// The signed envelope that ends a client's input (empty payload).
pub fn encode_client_end() -> Bytes {
    signed_envelope(Bytes::new())
}

fn signed_envelope(payload: Bytes) -> Bytes {
    let envelope = Message::new(payload)
        .add_header(Header::new(
            ":chunk-signature",
            HeaderValue::ByteArray(Bytes::from_static(&[0u8; 32])),
        ))
        .add_header(Header::new(
            ":date",
            HeaderValue::Timestamp(DateTime::from_secs(0)),
        ));
    to_bytes(&envelope)
}

/// Splits a byte stream into event-stream messages.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// Bytes received but not yet part of a whole frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete message, `Ok(None)` until one has fully arrived.
    /// After an error the stream cannot be resynchronised: stop reading it.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        if self.buffer.len() < 4 {
            return Ok(None);
        }
        let total = u32::from_be_bytes([
            self.buffer[0],
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
        ]) as usize;
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&total) {
            return Err(FrameError::BadLength(total));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let frame = self.buffer.split_to(total).freeze();
        read_message_from(frame)
            .map(Some)
            .map_err(|e| FrameError::Malformed(e.to_string()))
    }
}

/// The event JSON inside a client frame; `None` for the empty end-of-input
/// envelope. Unsigned inner messages (no envelope) are accepted too.
pub fn client_event(message: &Message) -> Result<Option<Value>, FrameError> {
    let inner = if header_str(message, ":message-type").is_some() {
        message.clone()
    } else {
        if message.payload().is_empty() {
            return Ok(None);
        }
        read_message_from(message.payload().clone())
            .map_err(|e| FrameError::Malformed(format!("inner message: {e}")))?
    };
    let message_type =
        header_str(&inner, ":message-type").ok_or(FrameError::MissingHeader(":message-type"))?;
    let event_type =
        header_str(&inner, ":event-type").ok_or(FrameError::MissingHeader(":event-type"))?;
    if message_type != "event" || event_type != "chunk" {
        return Err(FrameError::Unexpected(format!(
            "{message_type}/{event_type} (expected event/chunk)"
        )));
    }
    unwrap_payload(inner.payload()).map(Some)
}

/// Reads a server frame (for clients and tests).
pub fn server_frame(message: &Message) -> Result<ServerFrame, FrameError> {
    match header_str(message, ":message-type") {
        Some("event") => unwrap_payload(message.payload()).map(ServerFrame::Event),
        Some("exception") => {
            let name = header_str(message, ":exception-type")
                .ok_or(FrameError::MissingHeader(":exception-type"))?;
            let kind = StreamException::from_wire_name(name)
                .ok_or_else(|| FrameError::Unexpected(format!("exception type {name}")))?;
            let body: Value = serde_json::from_slice(message.payload())
                .map_err(|e| FrameError::BadPayload(e.to_string()))?;
            let text = body.get("message").and_then(Value::as_str).unwrap_or("");
            Ok(ServerFrame::Exception(kind, text.to_owned()))
        }
        Some(other) => Err(FrameError::Unexpected(format!("message type {other}"))),
        None => Err(FrameError::MissingHeader(":message-type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn decode_all(bytes: &[u8], chunk: usize) -> Vec<Message> {
        let mut decoder = FrameDecoder::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            decoder.push(piece);
            while let Some(message) = decoder.next_message().unwrap() {
                out.push(message);
            }
        }
        assert_eq!(decoder.buffered(), 0);
        out
    }

    #[test]
    fn client_frames_unwrap_and_the_end_frame_is_skipped() {
        let event =
            json!({"event": {"sessionStart": {"inferenceConfiguration": {"maxTokens": 1024}}}});
        let mut wire = encode_client_event(&event).to_vec();
        wire.extend_from_slice(&encode_client_end());
        let messages = decode_all(&wire, 7);
        assert_eq!(messages.len(), 2);
        assert_eq!(client_event(&messages[0]).unwrap(), Some(event));
        assert_eq!(client_event(&messages[1]).unwrap(), None);
    }

    #[test]
    fn server_exceptions_carry_type_and_message() {
        let wire = encode_exception(StreamException::ModelTimeout, "timed out");
        let messages = decode_all(&wire, 3);
        assert_eq!(
            server_frame(&messages[0]).unwrap(),
            ServerFrame::Exception(StreamException::ModelTimeout, "timed out".into())
        );
    }

    #[test]
    fn corrupted_checksum_is_an_error() {
        let mut wire = encode_event(&json!({"event": {}})).to_vec();
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        let mut decoder = FrameDecoder::new();
        decoder.push(&wire);
        assert!(matches!(
            decoder.next_message(),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn absurd_lengths_are_refused_before_buffering() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&u32::MAX.to_be_bytes());
        assert!(matches!(
            decoder.next_message(),
            Err(FrameError::BadLength(_))
        ));
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn server_events_round_trip(
            name in "[a-zA-Z]{1,20}",
            fields in proptest::collection::btree_map("[a-z]{1,10}", json_leaf(), 0..6),
            chunk in 1usize..64,
        ) {
            let event = json!({"event": {name: fields}});
            let wire = encode_event(&event);
            let messages = decode_all(&wire, chunk);
            prop_assert_eq!(messages.len(), 1);
            prop_assert_eq!(server_frame(&messages[0]).unwrap(), ServerFrame::Event(event));
        }

        #[test]
        fn client_events_round_trip(
            text in ".{0,200}",
            audio in proptest::collection::vec(any::<u8>(), 0..600),
            chunk in 1usize..97,
        ) {
            let first = json!({"event": {"textInput": {"content": text}}});
            let second = json!({"event": {"audioInput": {"content": BASE64.encode(&audio)}}});
            let mut wire = encode_client_event(&first).to_vec();
            wire.extend_from_slice(&encode_client_event(&second));
            wire.extend_from_slice(&encode_client_end());
            let events: Vec<Option<Value>> = decode_all(&wire, chunk)
                .iter()
                .map(|m| client_event(m).unwrap())
                .collect();
            prop_assert_eq!(events, vec![Some(first), Some(second), None]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..512),
            chunk in 1usize..64,
        ) {
            let mut decoder = FrameDecoder::new();
            'feed: for piece in bytes.chunks(chunk) {
                decoder.push(piece);
                loop {
                    match decoder.next_message() {
                        Ok(Some(message)) => {
                            let _ = client_event(&message);
                            let _ = server_frame(&message);
                        }
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
        }

        #[test]
        fn mutated_frames_never_panic(
            position in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut wire = encode_client_event(&json!({"event": {"promptEnd": {"promptName": "p"}}})).to_vec();
            let at = position.index(wire.len());
            wire[at] = value;
            let mut decoder = FrameDecoder::new();
            decoder.push(&wire);
            if let Ok(Some(message)) = decoder.next_message() {
                let _ = client_event(&message);
            }
        }
    }
}
