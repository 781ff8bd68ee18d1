//! Consent requests: any bytes read or give an error, never a panic; what reads writes back to JSON
//! that reads as the same request (and writes the same again); the checks of a body give the answer
//! the checks of its typed request give.
#![no_main]

use std::sync::LazyLock;

use consent_core::{Caller, ConsentRequest, Policy, RequestContext, ServiceScope};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    Policy::from_toml(include_str!("../../examples/invisionu/policy.toml")).unwrap()
});

/// A service that may record every purpose on every kind it may name, and one with a narrow scope.
static SCOPES: LazyLock<[ServiceScope; 2]> = LazyLock::new(|| {
    [
        ServiceScope::everything(&POLICY),
        ServiceScope::parse(&POLICY, &["application-review", "marketing"], &["form"]).unwrap(),
    ]
});

fuzz_target!(|data: &[u8]| {
    let read = ConsentRequest::from_json(data);
    if let Ok(request) = &read {
        let json = request.to_json();
        let again = ConsentRequest::from_json(json.as_bytes());
        assert_eq!(again.as_ref(), Ok(request), "{json}");
        assert_eq!(again.map(|r| r.to_json()).as_deref(), Ok(json.as_str()));
    }
    let [everything, portal] = &*SCOPES;
    for caller in [
        Caller::Anonymous,
        Caller::Service(everything),
        Caller::Service(portal),
        Caller::Server,
    ] {
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
