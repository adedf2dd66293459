//! SAM templates (YAML with CloudFormation tags and intrinsic functions):
//! resolved, or a template error, never a panic.
#![no_main]

use harness::template::{LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = load_str(text, &LoadOptions::default()) {
        assert!(!error.to_string().is_empty());
    }
});
