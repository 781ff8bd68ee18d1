//! The consent log through the HTTP API (`oneshot`, a real SQLite file): log indexes in answers,
//! checkpoints verified with the served key, tiles, entry bundles for auditors only, witnesses'
//! cosignatures, and receipts' tlog-proofs for whoever may read the receipt.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use consent_core::tlog::{
    Bundle, Cosigner, Hash, NoteVerifier, Tile, UnverifiedCheckpoint, UnverifiedTlogProof,
    bundle_entries, tile_hashes,
};
use serde_json::json;

async fn consent(s: &TestServer) -> serde_json::Value {
    let r = call(
        s,
        post_json(
            "/v1/consents",
            &consent_body(json!({"cookies-analytics": "given"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn text(s: &TestServer, uri: &str) -> String {
    let r = call(s, get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
    r.text()
}

fn witness() -> Cosigner {
    Cosigner::from_seed("witness.example/w1".parse().unwrap(), [9; 32])
}

#[tokio::test]
async fn receipts_and_rights_are_logged_checkpointed_and_proved() {
    let s = server_with("log-flow", |c| {
        c.log.witnesses = vec![witness().verifier().to_string()]
    })
    .await;
    // Receipts and a rights event share one order, from 0, without gaps.
    let mut answers = Vec::new();
    for i in 0..3u64 {
        let j = consent(&s).await;
        assert_eq!(j["log_index"], i, "{j}");
        assert_eq!(
            j["proof"],
            format!("/v1/receipts/{}/proof", j["receipt_id"].as_str().unwrap()),
            "{j}"
        );
        answers.push(j);
    }
    let restrict = format!(
        "/v1/subjects/{}/restrict",
        answers[0]["subject"].as_str().unwrap()
    );
    let r = call(
        &s,
        with_token(
            Request::post(&restrict).body(Body::empty()).unwrap(),
            OPERATOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["log_index"], 3);
    assert_eq!(r.json()["proof"], "/v1/log/entries/3/proof");

    // The checkpoint verifies with the served key and covers the four entries.
    let vkey: NoteVerifier = text(&s, "/log/key").await.trim().parse().unwrap();
    assert_eq!(vkey.name().as_str(), "invisionu.education/consent-log");
    let note = text(&s, "/log/checkpoint").await;
    let checkpoint = UnverifiedCheckpoint::parse(&note)
        .unwrap()
        .verify(&vkey, &[])
        .unwrap();
    assert_eq!(checkpoint.checkpoint().size(), 4);

    // Hash tiles are public and hold the entries' leaf hashes; the partial tile is served at its width.
    let r = call(&s, get("/log/tile/0/000.p/4").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let leaves = tile_hashes(&Tile::new(0, 0, 4).unwrap(), &r.body).unwrap();
    for (leaf, a) in leaves.iter().zip(&answers) {
        assert_eq!(*leaf, Hash::leaf(a["receipt"].as_str().unwrap().as_bytes()));
    }
    let r = call(&s, get("/log/tile/0/000.p/5").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not in the tree yet");
    let r = call(&s, get("/log/tile/0/0").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not a canonical path");

    // Entry bundles are for auditors only.
    let bundle_uri = "/log/tile/entries/000.p/4";
    let r = call(&s, get(bundle_uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        with_token(get(bundle_uri).body(Body::empty()).unwrap(), OPERATOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &s,
        with_token(get(bundle_uri).body(Body::empty()).unwrap(), AUDITOR),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let entries = bundle_entries(&Bundle::new(0, 4).unwrap(), &r.body).unwrap();
    assert_eq!(entries.len(), 4);
    for (e, leaf) in entries.iter().zip(&leaves) {
        assert_eq!(Hash::leaf(e), *leaf);
    }
    let record = std::str::from_utf8(entries[3]).unwrap();
    let rights = consent_core::RightsRecord::verify(record, &s.state.keys.receipts).unwrap();
    assert_eq!(
        (rights.what.as_str(), rights.sub.as_str()),
        ("restrict", answers[0]["subject"].as_str().unwrap())
    );

    // A receipt's proof, for the holder of its consent token.
    let a = &answers[1];
    let uri = format!("/v1/receipts/{}/proof", a["receipt_id"].as_str().unwrap());
    let r = call(&s, get(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", answers[2]["token"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another receipt's token");
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", a["token"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let leaf = Hash::leaf(a["receipt"].as_str().unwrap().as_bytes());
    let proof = UnverifiedTlogProof::parse(&r.text())
        .unwrap()
        .verify(&leaf, &vkey, &[])
        .unwrap();
    assert_eq!(proof.index(), 1);
    let other = Hash::leaf(answers[0]["receipt"].as_str().unwrap().as_bytes());
    assert!(
        UnverifiedTlogProof::parse(&r.text())
            .unwrap()
            .verify(&other, &vkey, &[])
            .is_err()
    );

    // The rights event's proof (issue 21.5), for staff, from the path its answer gave; it proves the
    // signed record the entry bundle serves, and nothing else.
    let uri = "/v1/log/entries/3/proof";
    let r = call(&s, get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for token in [OPERATOR, AUDITOR] {
        let r = call(&s, with_token(get(uri).body(Body::empty()).unwrap(), token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let proof = UnverifiedTlogProof::parse(&r.text())
            .unwrap()
            .verify(&Hash::leaf(record.as_bytes()), &vkey, &[])
            .unwrap();
        assert_eq!(proof.index(), 3);
        assert!(
            UnverifiedTlogProof::parse(&r.text())
                .unwrap()
                .verify(&other, &vkey, &[])
                .is_err()
        );
    }
    let r = call(
        &s,
        with_token(
            get("/v1/log/entries/99/proof").body(Body::empty()).unwrap(),
            AUDITOR,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // The receipt with its proof, as the banner's download asks for it.
    let uri = format!(
        "/v1/receipts/{}?include=proof",
        a["receipt_id"].as_str().unwrap()
    );
    let r = call(
        &s,
        get(&uri)
            .header("x-consent-token", a["token"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    assert_eq!(j["log_index"], 1, "{j}");
    let proof = UnverifiedTlogProof::parse(j["tlog_proof"].as_str().unwrap())
        .unwrap()
        .verify(&leaf, &vkey, &[])
        .unwrap();
    assert_eq!(proof.index(), 1);
    let r = call(
        &s,
        get(&uri.replace("include=proof", "include=all"))
            .header("x-consent-token", a["token"].as_str().unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // A witness cosigns; the checkpoint is served with the cosignature from then on.
    let w = witness();
    let mut cosigned = checkpoint.clone();
    cosigned
        .add_cosignature(w.cosign(&checkpoint, 1_768_471_300).unwrap(), &w.verifier())
        .unwrap();
    let post = |body: String| {
        Request::post("/log/cosignature")
            .header("content-type", "text/plain")
            .body(Body::from(body))
            .unwrap()
    };
    let r = call(&s, post(cosigned.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let served = text(&s, "/log/checkpoint").await;
    let verified = UnverifiedCheckpoint::parse(&served)
        .unwrap()
        .verify(&vkey, &[w.verifier()])
        .unwrap();
    assert_eq!(verified.cosignatures().len(), 1);
    // An unknown witness's cosignature, or a checkpoint another key signed, is refused.
    let stranger = Cosigner::from_seed("stranger.example/w".parse().unwrap(), [3; 32]);
    let mut other = checkpoint.clone();
    other
        .add_cosignature(
            stranger.cosign(&checkpoint, 5).unwrap(),
            &stranger.verifier(),
        )
        .unwrap();
    let r = call(&s, post(other.to_string())).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = call(&s, post(served.replace("consent-log\n4", "consent-log\n5"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A later batch gets a new checkpoint, consistent with the first.
    consent(&s).await;
    consent_server::log::checkpoint_once(&s.state)
        .await
        .unwrap();
    let later = UnverifiedCheckpoint::parse(&text(&s, "/log/checkpoint").await)
        .unwrap()
        .verify(&vkey, &[])
        .unwrap();
    assert_eq!(later.checkpoint().size(), 5);
}
