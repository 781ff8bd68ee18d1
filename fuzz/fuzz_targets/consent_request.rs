//! Consent requests: any bytes read or give an error, never a panic; what reads writes back to JSON
//! that reads as the same request (and writes the same again); the checks of a body give the answer
//! the checks of its typed request give.
#![no_main]

use std::sync::LazyLock;

use consent_core::{Caller, ConsentRequest, Policy, RequestContext};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

fuzz_target!(|data: &[u8]| {
    let read = ConsentRequest::from_json(data);
    if let Ok(request) = &read {
        let json = request.to_json();
        let again = ConsentRequest::from_json(json.as_bytes());
        assert_eq!(again.as_ref(), Ok(request), "{json}");
        assert_eq!(again.map(|r| r.to_json()).as_deref(), Ok(json.as_str()));
    }
    for caller in [Caller::Anonymous, Caller::Service, Caller::Server] {
        for gpc in [false, true] {
            let mut cx = RequestContext::new(&POLICY, caller);
            cx.gpc = gpc;
            let checked = cx.check_json(data);
            if let Ok(request) = &read {
                assert_eq!(request.check(&cx), checked);
            }
        }
    }
});
