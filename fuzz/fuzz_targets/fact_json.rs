//! The wire fact decoder (`FactJson::from_json_str`, used by `record --fact`,
//! JSONL import and HTTP bodies): any text is either refused with an error
//! naming a field, or decodes to a fact that survives JSON and the WIT
//! bindings unchanged. Never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_host::bindings::Fact;
use usage_host::wire::FactJson;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match FactJson::from_json_str(text) {
        Ok(fact) => {
            let json = serde_json::to_string(&fact).expect("a decoded fact serialises");
            let back = FactJson::from_json_str(&json)
                .unwrap_or_else(|e| panic!("{json} does not decode again: {e}"));
            assert_eq!(back, fact, "JSON round trip of {text:?}");
            assert_eq!(FactJson::from(Fact::from(fact.clone())), fact);
        }
        Err(e) => {
            assert!(!e.field.is_empty(), "no field named for {text:?}");
            assert!(!e.message.is_empty(), "no reason given for {text:?}");
        }
    }
});
