//! The contract every `VectorIndex` adapter keeps. The embedded index is checked always; Qdrant
//! whenever `QDRANT_URL` names a server (gRPC, e.g. `http://127.0.0.1:6334`), each run in a
//! collection of its own, dropped at the end.

use std::sync::Arc;

use aeternum::config::EmbeddedMethod;
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
async fn the_embedded_index_keeps_the_contract_with_either_method() {
    contract(Arc::new(MemoryIndex::new(EmbeddedMethod::Hnsw))).await;
    contract(Arc::new(MemoryIndex::new(EmbeddedMethod::Exact))).await;
}

/// Unit vectors around 20 centres (like a catalog's categories), from a fixed seed.
fn clustered(count: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
    aeternum::search::hnsw::synthetic(count, dimensions, (20, 0.5), seed)
}

/// The same points, vendor `vendors[i % 100]`, in an approximate and an exact index.
async fn twin_indexes(vectors: &[Vec<f32>], vendors: &[Uuid]) -> (MemoryIndex, MemoryIndex, Vec<Uuid>) {
    let (approximate, exact) = (MemoryIndex::new(EmbeddedMethod::Hnsw), MemoryIndex::new(EmbeddedMethod::Exact));
    let ids: Vec<Uuid> = vectors.iter().map(|_| Uuid::now_v7()).collect();
    let points: Vec<VectorPoint> = vectors
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(i, (vector, id))| VectorPoint {
            id: *id,
            vector: vector.clone(),
            payload: Payload { vendor: vendors[i % vendors.len()], ..Payload::default() },
        })
        .collect();
    for index in [&approximate, &exact] {
        index.prepare(vectors[0].len()).await.unwrap();
        index.upsert(points.clone()).await.unwrap();
    }
    (approximate, exact, ids)
}

#[tokio::test]
async fn the_approximate_index_finds_what_the_exact_scan_finds() {
    let mut vectors = clustered(3_050, 32, 5);
    let queries = vectors.split_off(3_000);
    let vendors: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let (approximate, exact, _) = twin_indexes(&vectors, &vendors).await;

    // Before linking, fresh points are scanned: the answers are already exact.
    let unlinked = approximate.search(&queries[0], 10, &VectorFilter::default()).await.unwrap();
    assert_eq!(unlinked, exact.search(&queries[0], 10, &VectorFilter::default()).await.unwrap());

    approximate.link_all().unwrap();
    assert_eq!(approximate.pending().unwrap(), 0);
    let mut found = 0;
    for query in &queries {
        let truth = exact.search(query, 10, &VectorFilter::default()).await.unwrap();
        let near = approximate.search(query, 10, &VectorFilter::default()).await.unwrap();
        assert!(near.windows(2).all(|w| w[0].1 >= w[1].1), "by descending similarity");
        found += truth.iter().filter(|hit| near.iter().any(|n| n.0 == hit.0)).count();
        // Rescored exactly: a product found by both has the same similarity.
        for (id, similarity) in &near {
            if let Some((_, exact_similarity)) = truth.iter().find(|t| t.0 == *id) {
                assert!((similarity - exact_similarity).abs() < 1e-5);
            }
        }
    }
    let recall = found as f64 / (queries.len() * 10) as f64;
    assert!(recall >= 0.98, "recall@10 against the exact scan: {recall}");
}

#[tokio::test]
async fn a_narrow_filter_returns_a_full_page_from_the_approximate_index() {
    let vectors = clustered(3_000, 32, 9);
    let vendors: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let (approximate, exact, _) = twin_indexes(&vectors, &vendors).await;
    approximate.link_all().unwrap();
    // Each vendor has 30 products: one in a hundred.
    let narrow = VectorFilter { vendors: vec![vendors[42]], ..Default::default() };
    for query in &vectors[..5] {
        let page = approximate.search(query, 24, &narrow).await.unwrap();
        assert_eq!(page.len(), 24, "a full page");
        assert_eq!(page, exact.search(query, 24, &narrow).await.unwrap());
    }
    let all_thirty = approximate.search(&vectors[0], 200, &narrow).await.unwrap();
    assert_eq!(all_thirty.len(), 30);
}

#[tokio::test]
async fn replacing_points_many_times_over_keeps_one_of_each() {
    let vectors = clustered(1_500, 16, 13);
    let vendors = [Uuid::now_v7()];
    let (approximate, _, ids) = twin_indexes(&vectors, &vendors).await;
    // Every point replaced with the vector of the next: the dead slots outnumber the living and
    // are compacted away.
    for round in 1..3 {
        let points = ids
            .iter()
            .enumerate()
            .map(|(i, id)| VectorPoint {
                id: *id,
                vector: vectors[(i + round) % vectors.len()].clone(),
                payload: Payload { vendor: vendors[0], ..Payload::default() },
            })
            .collect();
        approximate.upsert(points).await.unwrap();
    }
    approximate.link_all().unwrap();
    assert_eq!(approximate.count().await.unwrap(), 1_500);
    let top = approximate.search(&vectors[7], 1, &VectorFilter::default()).await.unwrap();
    assert_eq!(top[0].0, ids[5], "the point now holding vector 7");
    assert!((top[0].1 - 1.0).abs() < 1e-5);
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

#[tokio::test]
async fn products_sharing_vectors_are_all_found() {
    // 3,000 products with 150 distinct texts, as a catalog of many units of few models.
    let distinct = clustered(150, 32, 21);
    let vectors: Vec<Vec<f32>> = (0..3_000).map(|i| distinct[i % distinct.len()].clone()).collect();
    let vendors: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let (approximate, exact, _) = twin_indexes(&vectors, &vendors).await;
    approximate.link_all().unwrap();
    for query in clustered(20, 32, 77) {
        let truth = exact.search(&query, 60, &VectorFilter::default()).await.unwrap();
        let near = approximate.search(&query, 60, &VectorFilter::default()).await.unwrap();
        assert_eq!(near.len(), 60);
        // The same similarities: which of the tied twins comes first is free.
        for (n, t) in near.iter().zip(&truth) {
            assert!((n.1 - t.1).abs() < 1e-5, "{} against {}", n.1, t.1);
        }
    }
    // Every twin of a vector is found, each one once.
    let twins = approximate.search(&distinct[3], 20, &VectorFilter::default()).await.unwrap();
    assert_eq!(twins.iter().filter(|t| (t.1 - 1.0).abs() < 1e-5).count(), 20);
    let unique: std::collections::HashSet<Uuid> = twins.iter().map(|t| t.0).collect();
    assert_eq!(unique.len(), 20);
}
