//! Scenario audio clips: WAV files with any header (formats, bit depths,
//! channel counts, lengths) read into 16-bit mono or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(clip) = harness::scenario::audio::Clip::from_bytes(data, "fuzz.wav") {
        let _ = clip.duration();
    }
});
