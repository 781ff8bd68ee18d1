//! consent-server: validates consent choices, signs receipts, keeps them in a database (SQLite), and lets
//! auditors and data subjects verify, export and withdraw.
//!
//! The binary (`src/main.rs`, commands in `src/cli/`) is a thin CLI over this library. [`app()`] is the
//! HTTP router, over [`AppState`]; the layers from the top down:
//!
//! - [`app`](mod@app): the router (the API's routes, the demo site's, the layers around them);
//! - [`api`] (the endpoints) and [`site`] (the demo site and banner files), which never import each other;
//! - what handlers share: [`state`], [`clock`], [`error`], [`metrics`], and the crate's own extractors,
//!   authentication and middleware (private modules `extract`, `auth`, `middleware`);
//! - [`store`]: the storage seam and SQLite behind it; [`config`], [`keys`], [`privacy`] below;
//! - [`serve`]: the serve loop (connections, their timeouts and cap, graceful shutdown) that runs the
//!   router on a socket.

pub mod api;
pub mod app;
mod auth;
pub mod cases;
pub mod clock;
pub mod config;
mod encoding;
pub mod error;
mod extract;
pub mod keys;
pub mod log;
pub mod metrics;
mod middleware;
pub mod personal;
pub mod privacy;
mod rate_limit;
pub mod serve;
pub mod site;
pub mod state;
pub mod store;
pub mod webhooks;

pub use app::app;
pub use state::{AppState, StateParts};
