//! `nova-sonic-stream` (seed 003) message bodies: any text gives a message
//! or a readable error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    if let Err(error) = backend::maya_nova_sonic::messages::parse(&body) {
        assert!(!error.is_empty());
    }
});
