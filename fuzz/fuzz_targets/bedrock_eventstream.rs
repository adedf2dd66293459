//! Bedrock event-stream frames, as the Bedrock mock reads the client's and
//! the backend reads the model's: arbitrary bytes split into frames, client
//! envelopes unwrapped, server frames read, and every payload parsed as a
//! Nova Sonic output event. Errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mocks::bedrock::eventstream::{FrameDecoder, client_event, server_frame, unwrap_payload};

fuzz_target!(|data: &[u8]| {
    let _ = backend::nova_sonic::output::parse_output(data);
    let _ = unwrap_payload(data);
    // Fed in two pieces, as bytes arrive from a socket.
    let cut = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let mut decoder = FrameDecoder::new();
    decoder.push(&data[..cut]);
    let mut pushed_rest = false;
    loop {
        match decoder.next_message() {
            Ok(Some(message)) => {
                let _ = client_event(&message);
                let _ = server_frame(&message);
                let _ = backend::nova_sonic::output::parse_output(message.payload());
            }
            Ok(None) if !pushed_rest => {
                decoder.push(&data[cut..]);
                pushed_rest = true;
            }
            Ok(None) | Err(_) => break,
        }
    }
});
