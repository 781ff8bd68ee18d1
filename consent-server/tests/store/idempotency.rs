//! Idempotency keys: a repeat answered with the first receipt, a key that lapses, a key that goes with an erasure.

use super::*;

/// Idempotency keys (issue 18.7), whatever the batches: new keys are stored with their receipts; a key
/// seen again (in a later batch, or twice in one) writes nothing and names the first receipt, saying
/// whether the body was the same; a key whose time has come is forgotten; an erasure drops the person's
/// keys and no one else's. Receipts stay numbered without gaps.
#[tokio::test]
async fn idempotency_keys_answer_repeats_lapse_and_go_with_an_erasure() {
    let origin = server("store-idempotency-origin").await;
    let verified: Vec<_> = consents(&origin, 10)
        .await
        .iter()
        .map(|jws| {
            UnverifiedReceipt::parse(jws)
                .unwrap()
                .verify(&origin.state.keys.receipts)
                .unwrap()
        })
        .collect();
    let s = server("store-idempotency").await;
    let day = NOW + 86_400;
    let key = |n: u8, body: u8, expires: i64| {
        Some(Idempotency {
            key: [n; 32],
            body: [body; 32],
            expires_at: Timestamp::from_unix(expires),
        })
    };
    let receipt = |i: usize, k: Option<Idempotency>| {
        Write::Receipt(Box::new(
            NewReceipt::new(&verified[i], None)
                .unwrap()
                .with_idempotency(k),
        ))
    };
    let id = |i: usize| NewReceipt::new(&verified[i], None).unwrap().id();
    let batch = |writes: Vec<Write>| {
        let pending: Vec<_> = writes
            .into_iter()
            .map(|w| s.state.store.submit(w).unwrap())
            .collect();
        async move {
            let mut out = Vec::new();
            for rx in pending {
                out.push(rx.await.unwrap().unwrap());
            }
            out
        }
    };
    // New receipts are logged in order, without gaps; repeats take no index.
    let logged = |i: u64| Written::Logged(LogIndex(i));
    let repeat = |i: usize, same_body: bool| Written::Repeat {
        receipt: id(i),
        same_body,
    };

    // New keys and a receipt without one; receipt 0 also makes its subject's data key (issue 20.1).
    let with_data_key = Write::Receipt(Box::new(
        NewReceipt::new(&verified[0], None)
            .unwrap()
            .with_idempotency(key(1, 1, day))
            .with_new_data_key(DataKey::from_bytes([7; 32])),
    ));
    let got = batch(vec![
        with_data_key,
        receipt(1, None),
        receipt(2, key(2, 1, day)),
    ])
    .await;
    assert_eq!(got, [logged(0), logged(1), logged(2)]);
    // Key 1 again (same body, another body), key 3 twice in one batch.
    let got = batch(vec![
        receipt(3, key(1, 1, day)),
        receipt(4, key(1, 2, day)),
        receipt(5, key(3, 1, day)),
        receipt(6, key(3, 1, day)),
    ])
    .await;
    assert_eq!(
        got,
        [
            repeat(0, true),
            repeat(0, false),
            logged(3),
            repeat(5, true)
        ]
    );
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 4);
    // A key that lapses when the receipts are issued (NOW) is forgotten by the next one.
    let got = batch(vec![receipt(7, key(4, 1, NOW))]).await;
    assert_eq!(got, [logged(4)]);
    let got = batch(vec![receipt(3, key(4, 1, day))]).await;
    assert_eq!(got, [logged(5)]);
    // Receipt 0's subject erased: its data key and its idempotency keys go in the erasure's
    // transaction; key 1 is new again; key 2 (another device's) is still a repeat.
    let erased = NewReceipt::new(&verified[0], None).unwrap().subject();
    assert!(
        read(&s, move |st| st.data_key(erased))
            .await
            .unwrap()
            .is_some()
    );
    let erase = rights(erased, Rights::Erase, NOW);
    assert_eq!(write(&s, erase).await.unwrap(), logged(6));
    assert!(
        read(&s, move |st| st.data_key(erased))
            .await
            .unwrap()
            .is_none()
    );
    let got = batch(vec![receipt(8, key(1, 1, day)), receipt(9, key(2, 1, day))]).await;
    assert_eq!(got, [logged(7), repeat(2, true)]);
    assert_eq!(read(&s, |st| st.receipt_count()).await.unwrap(), 7);
    let last = read(&s, |st| st.last_receipt()).await.unwrap().unwrap();
    assert_eq!((last.seq, last.id), (Seq(7), id(8)));
}
