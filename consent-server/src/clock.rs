//! The time source: the system clock in production, a fixed or hand-moved one in tests. Handlers never read
//! the system time themselves.
//!
//! ```
//! let (now, ms) = (consent_server::clock::system_clock())();
//! assert!(now.as_unix() > 1_700_000_000 && ms < 1000);
//! ```

use std::sync::Arc;

use consent_core::Timestamp;

/// The time source: seconds, and the milliseconds within the second.
pub type Clock = Arc<dyn Fn() -> (Timestamp, u32) + Send + Sync>;

/// The system clock: seconds and milliseconds.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (
            Timestamp::from_unix(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
            d.subsec_millis(),
        )
    })
}
