//! Client audio payloads (WAV with any header, raw PCM) as the speaking,
//! Buddy and nova-sonic-stream routes receive them: base64 of arbitrary
//! bytes under each MIME type the API knows, decoded or refused, never a panic.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

const MIMES: [Option<&str>; 7] = [
    None,
    Some("audio/wav"),
    Some("audio/pcm"),
    Some("audio/pcm;rate=16000"),
    Some("audio/pcm;rate=8000"),
    Some("audio/pcm;rate=0"),
    Some("audio/ogg"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let mime = MIMES[usize::from(selector) % MIMES.len()];
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if let Ok(samples) = backend::audio::decode_chunk(&encoded, mime) {
        // Whatever was accepted is PCM of a bounded size.
        assert!(samples.len() <= bytes.len() * 4 + 4096);
    }
});
