//! The base64 text of an audio field itself (padding, alphabet, whitespace,
//! lengths): decoded or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = backend::audio::decode_chunk(&text, None);
    let _ = backend::audio::decode_chunk(&text, Some("audio/pcm;rate=24000"));
});
