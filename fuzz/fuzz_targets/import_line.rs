//! An import file (JSON Lines) or an ingest API body, any bytes: each line parses or is refused
//! with a reason, never a panic, and what is accepted carries only bounded ids.
#![no_main]

#[path = "../../tests/support/invariants.rs"]
mod invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        let parsed = serde_json::from_str::<serde_json::Value>(line)
            .map_err(|e| e.to_string())
            .and_then(tavla::ingest::normalised::parse);
        if let Ok(inbound) = parsed {
            invariants::assert_ids_bounded(&inbound);
        }
    }
});
