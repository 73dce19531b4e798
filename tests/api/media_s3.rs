//! The media storage contract, run on the local store and on a real S3-compatible server
//! (s3s-fs, started by `scripts/test`), and the whole upload flow on S3.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Store, TestApp, test_s3_bucket};
use crate::media::{confirm, create, jpeg_with_location, png, put, shop, variant_url};

async fn on_s3(store: Store) -> TestApp {
    let bucket = test_s3_bucket().await;
    TestApp::spawn_with(store, |s| s.media.store = bucket).await
}

/// What every adapter must do: a signed `PUT` takes exactly the signed type and size, and
/// objects are written, read, measured and deleted.
async fn contract(app: &TestApp) {
    let store = app.media.store();
    let body = png(8, 8);
    let key = format!("uploads/contract/{}", uuid::Uuid::now_v7().simple());
    let signed = store.sign_put(&key, "image/png", body.len() as u64, Duration::from_secs(60)).await.unwrap();
    let uploader = app.uploader();
    let request = |kind: &str, bytes: Vec<u8>| {
        let mut request = uploader.put(&signed.url);
        for (name, value) in &signed.headers {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => {}
                "content-type" => request = request.header(name, kind),
                _ => request = request.header(name, value),
            }
        }
        request.body(bytes)
    };
    assert!(signed.headers.iter().any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v == "image/png"));

    // Another type or a larger body is refused by the signature; nothing is stored.
    let other_type = request("image/jpeg", body.clone()).send().await.unwrap();
    assert!(other_type.status().is_client_error(), "{}", other_type.status());
    let mut larger = body.clone();
    larger.extend_from_slice(&[0; 1024]);
    let too_long = request("image/png", larger).send().await.unwrap();
    assert!(too_long.status().is_client_error(), "{}", too_long.status());
    assert_eq!(store.size(&key).await.unwrap(), None);

    // The signed request is taken.
    let taken = request("image/png", body.clone()).send().await.unwrap();
    assert!(taken.status().is_success(), "{}", taken.status());
    assert_eq!(store.size(&key).await.unwrap(), Some(body.len() as u64));
    assert_eq!(store.read(&key, 1 << 20).await.unwrap().unwrap().bytes, body);
    assert!(store.read(&key, 10).await.is_err(), "a read is bounded");

    // Written, replaced, read back, deleted; missing objects are no error.
    let written = format!("images/contract/{}/original.png", uuid::Uuid::now_v7().simple());
    store.write(&written, "image/png", b"first".to_vec()).await.unwrap();
    store.write(&written, "image/png", body.clone()).await.unwrap();
    let object = store.read(&written, 1 << 20).await.unwrap().unwrap();
    assert_eq!((object.bytes, object.content_type.as_str()), (body, "image/png"));
    for key in [&key, &written] {
        store.delete(key).await.unwrap();
        assert_eq!(store.size(key).await.unwrap(), None);
        assert!(store.read(key, 1 << 20).await.unwrap().is_none());
    }
    store.delete(&written).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_store_keeps_the_contract() {
    let app = TestApp::spawn(Store::Sqlite).await;
    assert_eq!(app.media.store().name(), "local");
    contract(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_store_keeps_the_contract() {
    let app = on_s3(Store::Sqlite).await;
    assert_eq!(app.media.store().name(), "s3");
    contract(&app).await;
}

store_tests!(uploads_to_s3_reach_the_product);

async fn uploads_to_s3_reach_the_product(store: Store) {
    // The app reaches the store by one name, browsers by another; uploads are signed for theirs.
    let mut bucket = test_s3_bucket().await;
    let public = std::env::var("AETERNUM_TEST_S3_URL").unwrap();
    if let aeternum::config::MediaStoreSettings::S3 { endpoint, public_endpoint, .. } = &mut bucket {
        *endpoint = Some(public.replacen("127.0.0.1", "localhost", 1));
        *public_endpoint = Some(public.clone());
    }
    let app = TestApp::spawn_with(store, |s| s.media.store = bucket).await;
    let shop = shop(&app).await;
    let jpeg = jpeg_with_location(900, 600);
    let created = create(&app, &shop.vendor, &shop.product, "image/jpeg", jpeg.len()).await;
    let url = created["data"]["createUpload"]["url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "a presigned S3 URL: {url}");
    assert!(url.starts_with(&public), "signed for the public endpoint: {url}");
    assert_eq!(put(&app, &created, jpeg.clone(), Some("image/png")).await, 403);
    assert_eq!(put(&app, &created, jpeg, None).await, 200);
    let confirmed = confirm(&app, &shop.vendor, &created, "On S3").await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    let image = &confirmed["data"]["confirmUpload"];
    assert_eq!((image["width"].as_i64(), image["height"].as_i64()), (Some(900), Some(600)));

    // Read back through the public URL (the app, in front of the bucket).
    let response = app.client.get(image["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let original = response.bytes().await.unwrap();
    assert!(!original.windows(8).any(|w| w == b"LOCATION"), "the location is gone");
    let part = app.client.get(image["url"].as_str().unwrap()).header("range", "bytes=2-5").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &original[2..=5]);

    let small = variant_url(&app, &shop.product, &image["id"]).await;
    let variant = app.client.get(&small).send().await.unwrap();
    assert_eq!(variant.headers()["content-type"], "image/webp");
    let picture = image::load_from_memory(&variant.bytes().await.unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (320, 213));

    // The unchecked upload left the bucket once confirmed.
    let remove = "mutation($i: ID!) { removeImage(imageId: $i) { images { id } } }";
    let removed = app.graphql_as(&shop.vendor, remove, json!({ "i": image["id"] })).await;
    assert_eq!(removed["data"]["removeImage"]["images"], json!([]), "{removed}");
    assert_eq!(app.client.get(&small).send().await.unwrap().status(), 404);
    assert_eq!(app.count_rows("media_deletions").await, 0);
}
