//! consent-server: validates consent choices, signs receipts, keeps them in a database (SQLite), and lets
//! auditors and data subjects verify, export and withdraw.
//!
//! The binary (`src/main.rs`) is a thin CLI over this library; [`api::app`] is the HTTP router.

pub mod api;
pub mod config;
mod encoding;
pub mod keys;
pub mod privacy;
pub mod site;
pub mod store;
