//! A report whose every text field says anything: the printable page gains no markup from it,
//! no CSV cell starts a formula, and the JSON carries it as data.
#![no_main]

#[path = "../../tests/support/report_sample.rs"]
mod report_sample;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((number, text)) = data.split_at_checked(8) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let number = f64::from_le_bytes(number.try_into().unwrap_or_default());
    report_sample::assert_report_neutralises(text, number);
});
