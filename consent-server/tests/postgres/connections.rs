//! Outages classified, connections made again, and TLS to PostgreSQL through rustls.

use super::*;

#[test]
fn outages_are_classified_and_connections_made_again() {
    let Some(admin) = url_for_postgres_only_test("outages") else {
        return;
    };
    let schema = TestSchema::new(&admin, "outages");
    let name = format!("c_{}", schema.name);
    let store = open(&format!("{}&application_name={name}", schema.url)).unwrap();
    // A read-only session (a standby would be the same): 25006.
    let read_only = open(&with_options(
        &schema.url,
        "-c default_transaction_read_only=on",
    ))
    .unwrap();
    let e = write(read_only.as_ref(), rights(1)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Unavailable {
                outage: Outage::ReadOnly,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        read_only.ready(),
        Err(StoreError::Unavailable {
            outage: Outage::ReadOnly,
            ..
        })
    ));
    read_only.close();
    // A lock held longer than the session waits: 55P03.
    let impatient = open(&with_options(&schema.url, "-c lock_timeout=200ms")).unwrap();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let url = schema.url.clone();
    let holder = std::thread::spawn(move || {
        support::pg::with_client(&url, async move |c| {
            c.batch_execute("BEGIN; LOCK TABLE log_head IN EXCLUSIVE MODE")
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            tokio::task::spawn_blocking(move || release_rx.recv())
                .await
                .unwrap()
                .unwrap();
            c.batch_execute("COMMIT").await.unwrap();
        })
    });
    locked_rx.recv().unwrap();
    let e = write(impatient.as_ref(), rights(2)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Unavailable {
                outage: Outage::Locked,
                ..
            }
        ),
        "{e:?}"
    );
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    // The writer probes while writes fail: recovery is noticed without traffic.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while impatient.ready().is_err() {
        assert!(std::time::Instant::now() < deadline, "not ready again");
        std::thread::sleep(Duration::from_millis(100));
    }
    write(impatient.as_ref(), rights(2)).unwrap();
    impatient.close();
    // Connections killed by the server are made again.
    write(store.as_ref(), rights(3)).unwrap();
    sql(
        &admin,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{name}'"
        ),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match write(store.as_ref(), rights(4)) {
            Ok(_) => break,
            Err(StoreError::Unavailable {
                outage: Outage::Io, ..
            }) => {
                assert!(std::time::Instant::now() < deadline, "no new connection");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    store.close();
}
/// TLS through rustls: `verify-full` with the cluster's CA (scripts/pg-cluster makes one, and
/// scripts/test names it in `CONSENT_TEST_PG_CA`), `require`, and a CA that did not sign the server's
/// certificate.
#[test]
fn tls_verify_full_with_a_ca_file() {
    let Some(admin) = url_for_postgres_only_test("tls") else {
        return;
    };
    let Ok(ca) = std::env::var("CONSENT_TEST_PG_CA") else {
        assert!(!support::pg::required(), "CONSENT_TEST_PG_CA is not set");
        eprintln!("SKIPPED tls_verify_full_with_a_ca_file: CONSENT_TEST_PG_CA is not set");
        return;
    };
    let schema = TestSchema::new(&admin, "tls");
    let on_localhost = schema.url.replacen("@127.0.0.1:", "@localhost:", 1);
    let verified =
        format!("{on_localhost}&sslmode=verify-full&sslrootcert={ca}&application_name=consent-tls");
    let store = open(&verified).unwrap();
    write(store.as_ref(), rights(1)).unwrap();
    assert_eq!(
        schema.value(
            "SELECT bool_and(ssl)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name = 'consent-tls'"
        ),
        Some("true".to_owned())
    );
    store.close();
    open(&format!("{}&sslmode=require", schema.url))
        .unwrap()
        .close();
    // The Mozilla roots did not sign the test CA's certificate.
    let e = open(&format!(
        "{on_localhost}&sslmode=verify-full&sslrootcert=system"
    ))
    .err()
    .unwrap();
    assert!(
        matches!(e, StoreError::Unavailable { .. } | StoreError::Backend(_)),
        "{e:?}"
    );
}
