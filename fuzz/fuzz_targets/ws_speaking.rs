//! Speaking API (seed 000) message bodies: any text gives a message or an
//! error the client can read, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Err(error) = backend::speaking::messages::parse(&body) {
        assert!(!error.to_string().is_empty());
    }
});
