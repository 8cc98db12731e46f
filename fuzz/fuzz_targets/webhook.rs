//! A Meta webhook body, any bytes: the signature check and the parser never panic, and what the
//! parser accepts carries only bounded ids.
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is taken as the signature header, the rest as the body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(at) => (std::str::from_utf8(&data[..at]).ok(), &data[at + 1..]),
        None => (None, data),
    };
    let _ = tavla::ingest::signature::verify(b"fuzz-secret", body, header);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Ok(items) = tavla::ingest::meta::parse_webhook(&value) {
            items.iter().for_each(invariants::assert_ids_bounded);
        }
    }
});
