//! Chat API (seed 004) message bodies: any text gives a message or an error
//! with a code and a readable text, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Err(error) = backend::chat::messages::parse(&body) {
        assert!(!error.to_string().is_empty());
        assert!(!error.code().as_str().is_empty());
    }
});
