//! Chat authorizer tokens: the header reader and the whole verifier (HS256
//! with a fixed secret, RS256 with an empty key set). Arbitrary text is
//! refused, never accepted and never a panic.
#![no_main]

use std::sync::OnceLock;

use backend::chat::jwt::{JwtSettings, Verifier, read_header};
use backend::chat::keys::{HmacSecret, JwksCache};
use jsonwebtoken::jwk::JwkSet;
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static (tokio::runtime::Runtime, Verifier) {
    static VERIFIER: OnceLock<(tokio::runtime::Runtime, Verifier)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let settings = JwtSettings {
            issuer: "https://identity.local".to_owned(),
            audience: "chat".to_owned(),
            leeway_seconds: 0,
        };
        let verifier = Verifier::new(
            settings,
            Some(HmacSecret::configured(
                b"fuzzing-secret-not-guessable-0123456789",
            )),
            Some(JwksCache::fixed(JwkSet { keys: Vec::new() })),
        );
        (runtime, verifier)
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let _ = read_header(&token);
    let (runtime, verifier) = verifier();
    // Nobody can sign with the secret by chance: every input is refused.
    assert!(runtime.block_on(verifier.verify(&token)).is_err());
});
