//! A webhook delivery's body as a receiver reads it (`consent_core::Notification::from_json`,
//! `spec/SPEC.md` §8): any input is refused or read without panicking, and what is read writes back to
//! JSON that reads as the same notification.
#![no_main]

use consent_core::Notification;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(n) = Notification::from_json(data) else {
        return;
    };
    let again = Notification::from_json(n.to_json().as_bytes()).expect("what we write reads back");
    assert_eq!(again, n);
});
