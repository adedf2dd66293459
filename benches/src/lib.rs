//! criterion benchmarks of the harness and backend hot paths (see `benches/`).
//! This library holds the fixtures the benchmarks share.

/// A typical message body of the speaking API (an audio chunk envelope).
pub fn audio_chunk_body(audio_bytes: usize) -> String {
    let audio = "A".repeat(audio_bytes.div_ceil(3) * 4);
    serde_json::json!({"action": "audio_chunk", "audio": audio, "mime_type": "audio/pcm;rate=16000"}).to_string()
}
