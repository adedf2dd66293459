//! Scenario and conformance-suite files (YAML): parsed and checked, or a
//! readable error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = harness::scenario::parse(text) {
        assert!(!error.is_empty());
    }
    let _ = harness::scenario::parse_suite(text);
});
