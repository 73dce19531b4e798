//! The contract every `VectorIndex` adapter keeps. The embedded index is checked always; Qdrant
//! whenever `QDRANT_URL` names a server (gRPC, e.g. `http://127.0.0.1:6334`), each run in a
//! collection of its own, dropped at the end.

use std::sync::Arc;

use aeternum::search::qdrant::QdrantIndex;
use aeternum::search::vector::{MemoryIndex, Payload, VectorFilter, VectorIndex, VectorPoint};
use uuid::Uuid;

fn unit(v: [f32; 4]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn point(
    id: Uuid,
    vector: [f32; 4],
    category: Uuid,
    vendor: Uuid,
    price: i64,
    brand: &str,
    made_in: &str,
) -> VectorPoint {
    let mut payload = Payload {
        categories: vec![Uuid::nil(), category],
        vendor,
        currency: "EUR".into(),
        price_minor: price,
        buyable: price < 50_000,
        ..Payload::default()
    };
    payload.fields.insert("status".into(), "ACTIVE".into());
    payload.fields.insert("brand".into(), brand.into());
    payload.fields.insert("attr.made_in".into(), made_in.into());
    VectorPoint { id, vector: unit(vector), payload }
}

async fn contract(index: Arc<dyn VectorIndex>) {
    let ids: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let (coats, shoes) = (Uuid::now_v7(), Uuid::now_v7());
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    index.prepare(4).await.unwrap();
    index
        .upsert(vec![
            point(ids[0], [1.0, 0.0, 0.0, 0.0], coats, a, 10_000, "Celine", "Italy"),
            point(ids[1], [0.9, 0.1, 0.0, 0.0], coats, b, 60_000, "Dior", "France"),
            point(ids[2], [0.0, 1.0, 0.0, 0.0], shoes, a, 20_000, "Dior", "Italy"),
            point(ids[3], [0.0, 0.0, 1.0, 0.0], shoes, b, 30_000, "Celine", "Spain"),
        ])
        .await
        .unwrap();
    assert_eq!(index.count().await.unwrap(), 4);

    let query = unit([1.0, 0.05, 0.0, 0.0]);
    let all = index.search(&query, 10, &VectorFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|h| h.0).collect::<Vec<_>>()[..2], [ids[0], ids[1]], "nearest first");
    assert!(all.windows(2).all(|w| w[0].1 >= w[1].1), "by descending similarity");
    assert!((all[0].1 - 0.9988).abs() < 1e-3, "cosine similarity, got {}", all[0].1);
    assert_eq!(index.search(&query, 1, &VectorFilter::default()).await.unwrap().len(), 1, "limit holds");

    let cases: Vec<(VectorFilter, Vec<Uuid>)> = vec![
        (VectorFilter { category: Some(shoes), ..Default::default() }, vec![ids[2], ids[3]]),
        (VectorFilter { category: Some(Uuid::nil()), ..Default::default() }, ids.clone()),
        (VectorFilter { vendors: vec![b], ..Default::default() }, vec![ids[1], ids[3]]),
        (
            VectorFilter { price: Some(("EUR".into(), Some(15_000), Some(30_000))), ..Default::default() },
            vec![ids[2], ids[3]],
        ),
        (VectorFilter { price: Some(("USD".into(), None, None)), ..Default::default() }, vec![]),
        (VectorFilter { buyable: Some(false), ..Default::default() }, vec![ids[1]]),
        (
            VectorFilter { any_of: vec![("brand".into(), vec!["Dior".into()])], ..Default::default() },
            vec![ids[1], ids[2]],
        ),
        (
            VectorFilter {
                any_of: vec![
                    ("attr.made_in".into(), vec!["Italy".into(), "Spain".into()]),
                    ("brand".into(), vec!["Celine".into()]),
                ],
                ..Default::default()
            },
            vec![ids[0], ids[3]],
        ),
        (VectorFilter { any_of: vec![("status".into(), vec!["DRAFT".into()])], ..Default::default() }, vec![]),
    ];
    for (filter, expected) in cases {
        let mut found: Vec<Uuid> = index.search(&query, 10, &filter).await.unwrap().into_iter().map(|h| h.0).collect();
        found.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(found, expected, "{filter:?}");
    }

    // An upsert replaces the vector and payload; removal is idempotent.
    index.upsert(vec![point(ids[3], [1.0, 0.0, 0.0, 0.0], shoes, b, 30_000, "Celine", "Spain")]).await.unwrap();
    let top = index.search(&query, 10, &VectorFilter { vendors: vec![b], ..Default::default() }).await.unwrap();
    assert_eq!(top[0].0, ids[3]);
    index.remove(&[ids[0], ids[0], Uuid::now_v7()]).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 3);
    assert!(!index.search(&query, 10, &VectorFilter::default()).await.unwrap().iter().any(|h| h.0 == ids[0]));
    assert!(
        index
            .upsert(vec![VectorPoint { vector: vec![1.0, 0.0], ..point(ids[0], [1.0; 4], shoes, a, 1, "x", "y") }])
            .await
            .is_err(),
        "wrong length refused"
    );
}

#[tokio::test]
async fn the_embedded_index_keeps_the_contract() {
    contract(Arc::new(MemoryIndex::default())).await;
}

#[tokio::test]
async fn the_qdrant_index_keeps_the_contract_when_qdrant_url_is_set() {
    let Ok(url) = std::env::var("QDRANT_URL") else {
        eprintln!("QDRANT_URL is not set: the Qdrant adapter's contract test did not run");
        return;
    };
    let collection = format!("aeternum_contract_{}", Uuid::now_v7().simple());
    let index = QdrantIndex::connect(&url, &collection, None, std::time::Duration::from_secs(6)).unwrap();
    contract(Arc::new(index)).await;

    // Two replicas preparing a new collection at once: both go on, whichever created it.
    let raced = format!("aeternum_race_{}", Uuid::now_v7().simple());
    let connect = || QdrantIndex::connect(&url, &raced, None, std::time::Duration::from_secs(6)).unwrap();
    let (first, second) = (connect(), connect());
    let (a, b) = tokio::join!(first.prepare(4), second.prepare(4));
    a.unwrap();
    b.unwrap();
    assert!(first.prepare(8).await.is_err(), "a collection of other dimensions is refused");

    let client = qdrant_client::Qdrant::from_url(&url).build().unwrap();
    for name in [&collection, &raced] {
        client.delete_collection(name.as_str()).await.unwrap();
    }
}
