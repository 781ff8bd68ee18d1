//! A receipt's proof from the server at a log of 10 million entries (issue 21.9): `GET
//! /v1/receipts/{id}/proof` through the whole router (staff token, receipt read, latest checkpoint read
//! and verified, tiles read from SQLite, inclusion proof made, tlog-proof checked and written).
//!
//! `cargo bench -p consent-server --bench log_proof`. The tree is generated: 10 million leaf hashes, one
//! of them a real receipt's (at index 4,000,000, in the middle, where a proof reads the most tiles),
//! appended with core's `append_leaves` and stored as the writer stores tiles; the other entries exist
//! only as hashes.

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use consent_core::tlog::{Hash, Tile, TileReader, TreeError, append_leaves};
use consent_core::{Policy, Timestamp};
use consent_server::config::{Config, Role, StaffToken};
use consent_server::keys::ServerKeys;
use consent_server::store::{SqliteStore, Store};
use consent_server::{AppState, app};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt as _;

const POLICY: &str = include_str!("../../examples/invisionu/policy.toml");
const SIZE: u64 = 10_000_000;
const INDEX: u64 = 4_000_000;
const AUDITOR: &str = "bench-auditor-token";

fn config(dir: &std::path::Path) -> Config {
    Config {
        database: consent_server::store::Database::Sqlite(dir.join("consent.db")),
        keys: dir.join("keys.json"),
        tokens: vec![StaffToken::new(
            "auditor",
            Role::Auditor,
            consent_server::privacy::token_hash(AUDITOR),
        )],
        ..Config::default()
    }
}

fn state(config: Config, keys: ServerKeys) -> AppState {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir_db(&config)).unwrap());
    AppState::new(
        store,
        Policy::from_toml(POLICY).unwrap(),
        Vec::new(),
        keys,
        config,
        consent_server::clock::system_clock(),
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("consent-bench-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = ServerKeys::generate(
        &dir.join("keys.json"),
        Timestamp::from_unix(1_780_000_000),
        false,
    )
    .unwrap();
    // A real receipt, from a throwaway database.
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::copy(dir.join("keys.json"), scratch.join("keys.json")).unwrap();
    let answer: serde_json::Value = rt.block_on(async {
        let s = state(
            config(&scratch),
            ServerKeys::load(&scratch.join("keys.json")).unwrap(),
        );
        let body = serde_json::json!({
            "policy_version": "2025-03-26",
            "decisions": {"cookies-analytics": "given"},
            "method": "custom", "language": "en",
            "collection_point": {"kind": "banner", "page": "https://invisionu.education/"},
        });
        let r = app(s.clone())
            .oneshot(
                Request::post("/v1/consents")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        s.store.close();
        serde_json::from_slice(&bytes).unwrap()
    });
    let jws = answer["receipt"].as_str().unwrap().to_owned();
    let id = answer["receipt_id"].as_str().unwrap().to_owned();
    // The tree: 10 million leaves, the receipt's at INDEX, stored as tiles.
    let started = std::time::Instant::now();
    let leaves: Vec<Hash> = (0..SIZE)
        .map(|i| {
            if i == INDEX {
                Hash::leaf(jws.as_bytes())
            } else {
                Hash::leaf(&i.to_be_bytes())
            }
        })
        .collect();
    {
        // Creates the schema.
        SqliteStore::open(dir.join("consent.db")).unwrap().close();
    }
    let appended = append_leaves(0, &leaves, &NoTiles).unwrap();
    drop(leaves);
    let mut conn = rusqlite::Connection::open(dir.join("consent.db")).unwrap();
    let tx = conn.transaction().unwrap();
    for (tile, data) in appended.tiles() {
        tx.execute(
            "INSERT INTO log_tiles (level, idx, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![tile.level(), tile.index() as i64, data],
        )
        .unwrap();
    }
    tx.execute(
        "UPDATE log_head SET entries = ?1, root = ?2 WHERE id = 1",
        rusqlite::params![SIZE as i64, &appended.root().as_bytes()[..]],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO receipts (id, subject, issued_at, policy_version, method, kid, decisions, expires_at, actor, jws, log_index)
         VALUES (?1, ?2, 1, '2025-03-26', 'custom', 'k', 'cookies-analytics=given', 2, 'subject', ?3, ?4)",
        rusqlite::params![id, answer["subject"].as_str().unwrap(), jws, INDEX as i64],
    )
    .unwrap();
    tx.commit().unwrap();
    drop(conn);
    eprintln!(
        "generated a tree of {SIZE} entries ({} tiles) in {:.1} s",
        appended.tiles().len(),
        started.elapsed().as_secs_f64()
    );
    let s = state(config(&dir), keys);
    rt.block_on(consent_server::log::checkpoint_once(&s))
        .unwrap();
    let uri = format!("/v1/receipts/{id}/proof");
    let request = || {
        Request::get(&uri)
            .header("authorization", format!("Bearer {AUDITOR}"))
            .body(Body::empty())
            .unwrap()
    };
    let check = rt.block_on(app(s.clone()).oneshot(request())).unwrap();
    assert_eq!(check.status(), 200);
    c.bench_function("GET /v1/receipts/{id}/proof, 10M entries", |b| {
        b.iter(|| {
            let r = rt.block_on(app(s.clone()).oneshot(request())).unwrap();
            black_box(r.status())
        })
    });
    s.store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The empty tree has no tiles to read.
struct NoTiles;

impl TileReader for NoTiles {
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, TreeError> {
        assert!(tiles.is_empty());
        Ok(Vec::new())
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// The SQLite file of `config`.
fn dir_db(config: &Config) -> std::path::PathBuf {
    match &config.database {
        consent_server::store::Database::Sqlite(path) => path.clone(),
        other => panic!("the bench runs on SQLite, not {other:?}"),
    }
}
