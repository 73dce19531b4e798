//! Media: signed uploads, the checks before an image reaches a product, the served objects, and
//! the sweep; against the local store on both relational stores. The S3 adapter's runs are in
//! `media_s3`.

use std::io::Cursor;

use aeternum::identity::service::create_user;
use entity::Role;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement};
use serde_json::{Value, json};

use crate::fixtures;
use crate::helpers::{Credential, Store, TestApp, error_codes};

store_tests!(
    an_uploaded_image_reaches_the_product_without_its_location,
    bad_files_are_refused_and_nothing_is_attached,
    a_signed_url_takes_only_what_it_was_signed_for,
    limits_bound_uploads_per_product,
    images_are_reordered_and_removed_with_their_files,
    the_sweep_expires_stale_uploads_and_deletes_their_objects,
    only_the_vendor_and_staff_touch_a_products_images,
    the_demo_catalog_shows_pictures,
);

const PASSWORD: &str = "correct horse battery staple";

pub const CREATE: &str = "mutation($p: ID!, $f: String!, $t: String!, $n: Int!) {
    createUpload(productId: $p, filename: $f, contentType: $t, byteSize: $n) {
        uploadId url method headers { name value } expiresAt } }";
pub const CONFIRM: &str = "mutation($u: ID!, $a: String, $pos: Int) {
    confirmUpload(uploadId: $u, alt: $a, position: $pos) {
        id url small: url(width: 300) width height blurHash altText position } }";
const IMAGES: &str = "query($p: ID!) { node(id: $p) { ... on Product { images {
    id url small: url(width: 300) width height blurHash altText position } } } }";

/// A product of vendor `alpha`, a bearer of that vendor and one of another vendor.
pub struct Shop {
    pub product: String,
    pub vendor: Credential,
    pub rival: Credential,
}

pub async fn shop(app: &TestApp) -> Shop {
    let alpha = fixtures::vendor(&app.db, "alpha").await;
    let beta = fixtures::vendor(&app.db, "beta").await;
    let bags = fixtures::category(&app.db, "bags", None).await;
    let mut new = fixtures::new_product(1, alpha.id, bags.id);
    new.images.clear();
    let product = aeternum::catalog::editing::create_product(&app.db, new).await.unwrap();
    create_user(&app.db, "alpha@example.com", PASSWORD, "Alpha", Role::Vendor, Some(alpha.id)).await.unwrap();
    create_user(&app.db, "beta@example.com", PASSWORD, "Beta", Role::Vendor, Some(beta.id)).await.unwrap();
    Shop {
        product: aeternum::graphql::ids::GlobalId::encode(aeternum::graphql::ids::NodeType::Product, product.id)
            .to_string(),
        vendor: Credential::Bearer(app.sign_in("alpha@example.com", PASSWORD).await.0),
        rival: Credential::Bearer(app.sign_in("beta@example.com", PASSWORD).await.0),
    }
}

/// A JPEG of `width`×`height` carrying an EXIF block with a GPS position and a description.
pub fn jpeg_with_location(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg).unwrap();
    // TIFF, big-endian: IFD0 { ImageDescription, GPSInfo -> GPS IFD { GPSLatitudeRef "N" } }.
    let description = b"LOCATION 48.8584N 2.2945E\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    let gps_ifd = 8 + 2 + 2 * 12 + 4;
    let text_at = gps_ifd + 2 + 12 + 4;
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0E, 0, 2]);
    tiff.extend_from_slice(&(description.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&(text_at as u32).to_be_bytes());
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1]);
    tiff.extend_from_slice(&(gps_ifd as u32).to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(description);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut jpeg = plain[..2].to_vec();
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_pixel(width, height, image::Rgba([10, 120, 200, 255]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(image).write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

/// A PNG of a few dozen bytes whose header claims `width`×`height` pixels.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast_like(kind, data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        crc = !crc;
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The running CRC-32 (IEEE) of a PNG chunk's type and data, before the final inversion.
fn crc32fast_like(kind: &[u8], data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in kind.iter().chain(data) {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    crc
}

/// Creates an upload and returns its answer (data or errors).
pub async fn create(app: &TestApp, who: &Credential, product: &str, kind: &str, size: usize) -> Value {
    app.graphql_as(who, CREATE, json!({ "p": product, "f": "photo.jpg", "t": kind, "n": size })).await
}

/// `PUT`s `body` to a created upload with the headers it names, `kind` replacing its
/// content type when given; returns the status.
pub async fn put(app: &TestApp, upload: &Value, body: Vec<u8>, kind: Option<&str>) -> reqwest::StatusCode {
    let upload = &upload["data"]["createUpload"];
    assert_eq!(upload["method"], "PUT");
    let mut request = app.uploader().put(upload["url"].as_str().unwrap());
    for header in upload["headers"].as_array().unwrap() {
        let name = header["name"].as_str().unwrap();
        match name.to_ascii_lowercase().as_str() {
            // reqwest sets the length from the body, as a browser does.
            "content-length" => {}
            "content-type" => request = request.header(name, kind.unwrap_or(header["value"].as_str().unwrap())),
            _ => request = request.header(name, header["value"].as_str().unwrap()),
        }
    }
    request.body(body).send().await.unwrap().status()
}

pub async fn confirm(app: &TestApp, who: &Credential, upload: &Value, alt: &str) -> Value {
    let id = &upload["data"]["createUpload"]["uploadId"];
    app.graphql_as(who, CONFIRM, json!({ "u": id, "a": alt })).await
}

/// Uploads `bytes` of `kind` through the whole flow and returns the attached image.
pub async fn upload(app: &TestApp, shop: &Shop, bytes: Vec<u8>, kind: &str, alt: &str) -> Value {
    let created = create(app, &shop.vendor, &shop.product, kind, bytes.len()).await;
    assert_eq!(put(app, &created, bytes, None).await, reqwest::StatusCode::OK, "{created}");
    let confirmed = confirm(app, &shop.vendor, &created, alt).await;
    assert!(confirmed["errors"].is_null(), "{confirmed}");
    confirmed["data"]["confirmUpload"].clone()
}

async fn images(app: &TestApp, product: &str) -> Vec<Value> {
    let data = app.data(IMAGES, json!({ "p": product })).await;
    data["node"]["images"].as_array().cloned().unwrap_or_default()
}

/// Polls until the image's 300-px URL is a variant (bounded: about ten seconds).
pub async fn variant_url(app: &TestApp, product: &str, image_id: &Value) -> String {
    for _ in 0..200 {
        let images = images(app, product).await;
        let image = images.iter().find(|i| &i["id"] == image_id).unwrap();
        if image["small"] != image["url"] {
            return image["small"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the image's variants were never made");
}

async fn an_uploaded_image_reaches_the_product_without_its_location(store: Store) {
    let app = TestApp::spawn(store).await;
    let shop = shop(&app).await;
    let jpeg = jpeg_with_location(1000, 750);
    assert!(jpeg.windows(8).any(|w| w == b"LOCATION"));
    let image = upload(&app, &shop, jpeg, "image/jpeg", "Front view").await;
    assert_eq!((image["width"].as_i64(), image["height"].as_i64()), (Some(1000), Some(750)));
    assert_eq!((image["altText"].as_str(), image["position"].as_i64()), (Some("Front view"), Some(0)));
    assert!(image["blurHash"].as_str().is_some_and(|h| h.len() >= 6), "{image}");
    assert_eq!(images(&app, &shop.product).await.len(), 1);

    // The original, read back through its public URL: a JPEG, without the EXIF block.
    let url = image["url"].as_str().unwrap();
    assert!(url.starts_with(&app.address), "{url}");
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let original = response.bytes().await.unwrap();
    assert!(original.starts_with(&[0xFF, 0xD8, 0xFF]));
    assert!(!original.windows(6).any(|w| w == b"Exif\0\0"), "the EXIF block is gone");
    assert!(!original.windows(8).any(|w| w == b"LOCATION"), "the location is gone");
    assert_eq!(image::load_from_memory(&original).unwrap().width(), 1000);

    // Only plain keys are served.
    for path in ["images/%2e%2e/%2e%2e/test.db", "images//x.jpg", "images/a%2Fb.jpg", "..%2F..%2Fetc%2Fpasswd"] {
        let response = app.client.get(format!("{}/media/{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }

    // Conditional and ranged reads.
    let again = app.client.get(url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let part = app.client.get(url).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().as_ref(), &original[..10]);

    // The variant the storefront asks for arrives in the background, as WebP.
    let small = variant_url(&app, &shop.product, &image["id"]).await;
    let response = app.client.get(&small).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/webp");
    let variant = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
    assert_eq!((variant.width(), variant.height()), (320, 240));

    // The unchecked upload is neither kept nor served.
    let upload_rows = app.count_rows("media_uploads WHERE status = 'confirmed'").await;
    assert_eq!(upload_rows, 1);
    assert_eq!(app.count_rows("media_deletions").await, 0, "nothing is left to clean up");
}

async fn bad_files_are_refused_and_nothing_is_attached(store: Store) {
    let app = TestApp::spawn(store).await;
    let shop = shop(&app).await;
    let codes = |v: &Value| error_codes(v);

    // Refused before anything is signed.
    assert_eq!(codes(&create(&app, &shop.vendor, &shop.product, "image/gif", 10).await), ["UNSUPPORTED_MEDIA_TYPE"]);
    assert_eq!(codes(&create(&app, &shop.vendor, &shop.product, "text/html", 10).await), ["UNSUPPORTED_MEDIA_TYPE"]);
    let too_big = create(&app, &shop.vendor, &shop.product, "image/png", 15 * 1024 * 1024 + 1).await;
    assert_eq!(codes(&too_big), ["UPLOAD_TOO_LARGE"]);
    assert_eq!(codes(&create(&app, &shop.vendor, &shop.product, "image/png", 0).await), ["BAD_USER_INPUT"]);
    let nameless =
        app.graphql_as(&shop.vendor, CREATE, json!({ "p": shop.product, "f": " ", "t": "image/png", "n": 10 })).await;
    assert_eq!(codes(&nameless), ["BAD_USER_INPUT"]);
    assert_eq!(app.count_rows("media_uploads").await, 0);

    // Confirmed before anything was put.
    let early = create(&app, &shop.vendor, &shop.product, "image/png", 100).await;
    assert_eq!(codes(&confirm(&app, &shop.vendor, &early, "").await), ["UPLOAD_NOT_RECEIVED"]);

    // A text file calling itself a PNG, then the same upload again.
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let liar = create(&app, &shop.vendor, &shop.product, "image/png", html.len()).await;
    assert_eq!(put(&app, &liar, html, None).await, 200);
    assert_eq!(codes(&confirm(&app, &shop.vendor, &liar, "").await), ["UNSUPPORTED_MEDIA_TYPE"]);
    assert_eq!(codes(&confirm(&app, &shop.vendor, &liar, "").await), ["CONFLICT"]);

    // A real PNG declared as a JPEG.
    let bytes = png(20, 20);
    let mislabelled = create(&app, &shop.vendor, &shop.product, "image/jpeg", bytes.len()).await;
    assert_eq!(put(&app, &mislabelled, bytes, None).await, 200);
    assert_eq!(codes(&confirm(&app, &shop.vendor, &mislabelled, "").await), ["UNSUPPORTED_MEDIA_TYPE"]);

    // A decompression bomb: 60 bytes claiming 30000×30000 pixels.
    let bomb = png_bomb(30_000, 30_000);
    assert!(bomb.len() < 100);
    let bombed = create(&app, &shop.vendor, &shop.product, "image/png", bomb.len()).await;
    assert_eq!(put(&app, &bombed, bomb, None).await, 200);
    let refused = confirm(&app, &shop.vendor, &bombed, "").await;
    assert_eq!(codes(&refused), ["IMAGE_TOO_LARGE"], "{refused}");

    // A truncated image: the right header, then nothing.
    let mut cut = png(200, 200);
    cut.truncate(cut.len() / 2);
    let damaged = create(&app, &shop.vendor, &shop.product, "image/png", cut.len()).await;
    assert_eq!(put(&app, &damaged, cut, None).await, 200);
    assert_eq!(codes(&confirm(&app, &shop.vendor, &damaged, "").await), ["UNSUPPORTED_MEDIA_TYPE"]);

    // Bad arguments to confirm.
    let unknown =
        aeternum::graphql::ids::GlobalId::encode(aeternum::graphql::ids::NodeType::Upload, uuid::Uuid::now_v7());
    let missing = app.graphql_as(&shop.vendor, CONFIRM, json!({ "u": unknown })).await;
    assert_eq!(codes(&missing), ["NOT_FOUND"], "{missing}");
    let negative = app
        .graphql_as(&shop.vendor, CONFIRM, json!({ "u": early["data"]["createUpload"]["uploadId"], "pos": -1 }))
        .await;
    assert_eq!(codes(&negative), ["BAD_USER_INPUT"]);

    // Nothing attached, every refused object deleted, and none served.
    assert!(images(&app, &shop.product).await.is_empty());
    assert_eq!(app.count_rows("product_images").await, 0);
    assert_eq!(app.count_rows("media_uploads WHERE status = 'rejected'").await, 4);
    assert_eq!(app.count_rows("media_deletions").await, 0);
    for upload in [&liar, &mislabelled, &bombed, &damaged] {
        let id = upload["data"]["createUpload"]["uploadId"].as_str().unwrap();
        let id = aeternum::graphql::ids::GlobalId::parse_as(id, aeternum::graphql::ids::NodeType::Upload).unwrap();
        let key = format!("uploads/{}/{}", product_uuid(&shop), id.simple());
        assert_eq!(app.media.store().size(&key).await.unwrap(), None, "{key} was deleted");
        let served = app.client.get(format!("{}/media/{key}", app.address)).send().await.unwrap();
        assert_eq!(served.status(), 404);
    }
}

pub fn product_uuid(shop: &Shop) -> uuid::Uuid {
    aeternum::graphql::ids::GlobalId::parse_as(&shop.product, aeternum::graphql::ids::NodeType::Product).unwrap()
}

async fn a_signed_url_takes_only_what_it_was_signed_for(store: Store) {
    let app = TestApp::spawn_with(store, |s| s.media.upload_expiry_seconds = 60).await;
    let shop = shop(&app).await;
    let bytes = png(16, 16);
    let created = create(&app, &shop.vendor, &shop.product, "image/png", bytes.len()).await;

    // Another content type, a longer body, a shorter body, a forged signature, another key.
    assert_eq!(put(&app, &created, bytes.clone(), Some("image/jpeg")).await, 403);
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 64]);
    assert_eq!(put(&app, &created, longer, None).await, 403);
    assert_eq!(put(&app, &created, bytes[..bytes.len() - 1].to_vec(), None).await, 403);
    let url = created["data"]["createUpload"]["url"].as_str().unwrap();
    let forged = app.uploader().put(format!("{}x", url)).header("content-type", "image/png").body(bytes.clone());
    assert_eq!(forged.send().await.unwrap().status(), 403);
    let elsewhere = url.replacen("/uploads/", "/images/", 1);
    let moved = app.uploader().put(elsewhere).header("content-type", "image/png").body(bytes.clone());
    assert_eq!(moved.send().await.unwrap().status(), 403);
    assert_eq!(codes_of(&confirm(&app, &shop.vendor, &created, "").await), ["UPLOAD_NOT_RECEIVED"]);

    // The exact request is taken, and the upload confirms.
    assert_eq!(put(&app, &created, bytes, None).await, 200);
    assert!(confirm(&app, &shop.vendor, &created, "").await["errors"].is_null());

    // An expired URL is refused by the store, and its upload by confirm.
    let app = TestApp::spawn_with(store, |s| s.media.upload_expiry_seconds = 0).await;
    let shop = self::shop(&app).await;
    let bytes = png(16, 16);
    let created = create(&app, &shop.vendor, &shop.product, "image/png", bytes.len()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(put(&app, &created, bytes, None).await, 403);
    assert_eq!(codes_of(&confirm(&app, &shop.vendor, &created, "").await), ["UPLOAD_EXPIRED"]);
    assert_eq!(app.count_rows("product_images").await, 0);
}

fn codes_of(response: &Value) -> Vec<String> {
    error_codes(response)
}

async fn limits_bound_uploads_per_product(store: Store) {
    let app = TestApp::spawn_with(store, |s| s.media.max_pending_uploads_per_product = 3).await;
    let shop = shop(&app).await;
    for _ in 0..3 {
        assert!(create(&app, &shop.vendor, &shop.product, "image/png", 100).await["errors"].is_null());
    }
    let fourth = create(&app, &shop.vendor, &shop.product, "image/png", 100).await;
    assert_eq!(error_codes(&fourth), ["CONFLICT"]);
    assert_eq!(app.count_rows("media_uploads").await, 3);

    // A product that already has its 20 images takes no upload.
    let alpha = aeternum::catalog::service::vendor_by_slug(&app.db, "alpha").await.unwrap();
    let bags = fixtures::category(&app.db, "shoes", None).await;
    let mut full = fixtures::new_product(2, alpha.id, bags.id);
    full.images =
        (0..20).map(|n| aeternum::catalog::editing::NewImage::at(format!("https://x.example/{n}.jpg"), "")).collect();
    let full = aeternum::catalog::editing::create_product(&app.db, full).await.unwrap();
    let full = aeternum::graphql::ids::GlobalId::encode(aeternum::graphql::ids::NodeType::Product, full.id).to_string();
    assert_eq!(error_codes(&create(&app, &shop.vendor, &full, "image/png", 100).await), ["CONFLICT"]);
    assert_eq!(app.count_rows("media_uploads").await, 3);
}

async fn images_are_reordered_and_removed_with_their_files(store: Store) {
    let app = TestApp::spawn(store).await;
    let shop = shop(&app).await;
    let first = upload(&app, &shop, png(400, 400), "image/png", "first").await;
    let second = upload(&app, &shop, png(500, 400), "image/png", "second").await;
    assert_eq!((first["position"].as_i64(), second["position"].as_i64()), (Some(0), Some(1)));
    let small = variant_url(&app, &shop.product, &second["id"]).await;

    const REORDER: &str = "mutation($p: ID!, $ids: [ID!]!) { reorderImages(productId: $p, imageIds: $ids) {
        images { id position } } }";
    let reordered =
        app.graphql_as(&shop.vendor, REORDER, json!({ "p": shop.product, "ids": [second["id"], first["id"]] })).await;
    let order: Vec<&Value> =
        reordered["data"]["reorderImages"]["images"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert_eq!(order, [&second["id"], &first["id"]], "{reordered}");
    for bad in
        [json!([second["id"]]), json!([second["id"], second["id"]]), json!([second["id"], first["id"], first["id"]])]
    {
        let refused = app.graphql_as(&shop.vendor, REORDER, json!({ "p": shop.product, "ids": bad })).await;
        assert_eq!(error_codes(&refused), ["BAD_USER_INPUT"], "{bad}");
    }

    const REMOVE: &str = "mutation($i: ID!) { removeImage(imageId: $i) { images { id position } } }";
    let removed = app.graphql_as(&shop.vendor, REMOVE, json!({ "i": second["id"] })).await;
    assert_eq!(removed["data"]["removeImage"]["images"], json!([{ "id": first["id"], "position": 0 }]), "{removed}");
    for url in [second["url"].as_str().unwrap(), small.as_str()] {
        assert_eq!(app.client.get(url).send().await.unwrap().status(), 404, "{url} is deleted");
    }
    assert_eq!(app.client.get(first["url"].as_str().unwrap()).send().await.unwrap().status(), 200);
    assert_eq!(error_codes(&app.graphql_as(&shop.vendor, REMOVE, json!({ "i": second["id"] })).await), ["NOT_FOUND"]);
    assert_eq!(app.count_rows("media_deletions").await, 0);
}

async fn the_sweep_expires_stale_uploads_and_deletes_their_objects(store: Store) {
    let app = TestApp::spawn_with(store, |s| {
        s.media.upload_expiry_seconds = 1;
        s.media.sweep_seconds = 0;
    })
    .await;
    let shop = shop(&app).await;
    let bytes = png(16, 16);
    let stale = create(&app, &shop.vendor, &shop.product, "image/png", bytes.len()).await;
    assert_eq!(put(&app, &stale, bytes, None).await, 200);
    let id = stale["data"]["createUpload"]["uploadId"].as_str().unwrap();
    let id = aeternum::graphql::ids::GlobalId::parse_as(id, aeternum::graphql::ids::NodeType::Upload).unwrap();
    let key = format!("uploads/{}/{}", product_uuid(&shop), id.simple());
    assert!(app.media.store().size(&key).await.unwrap().is_some());

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let swept = aeternum::media::service::sweep(&app.media, &app.db).await.unwrap();
    assert_eq!((swept.expired_uploads, swept.deleted_objects), (1, 1));
    assert_eq!(app.media.store().size(&key).await.unwrap(), None);
    assert_eq!(error_codes(&confirm(&app, &shop.vendor, &stale, "").await), ["UPLOAD_EXPIRED"]);
    let again = aeternum::media::service::sweep(&app.media, &app.db).await.unwrap();
    assert_eq!(again, aeternum::media::service::Swept::default());
}

async fn only_the_vendor_and_staff_touch_a_products_images(store: Store) {
    let app = TestApp::spawn(store).await;
    let shop = shop(&app).await;
    assert_eq!(error_codes(&create(&app, &shop.rival, &shop.product, "image/png", 10).await), ["FORBIDDEN"]);
    assert_eq!(
        error_codes(&create(&app, &Credential::Anonymous, &shop.product, "image/png", 10).await),
        ["UNAUTHENTICATED"]
    );

    let bytes = png(16, 16);
    let created = create(&app, &shop.vendor, &shop.product, "image/png", bytes.len()).await;
    assert_eq!(put(&app, &created, bytes, None).await, 200);
    assert_eq!(error_codes(&confirm(&app, &shop.rival, &created, "").await), ["FORBIDDEN"]);
    assert_eq!(app.count_rows("product_images").await, 0);

    create_user(&app.db, "staff@example.com", PASSWORD, "Staff", Role::Staff, None).await.unwrap();
    let staff = Credential::Bearer(app.sign_in("staff@example.com", PASSWORD).await.0);
    let image = confirm(&app, &staff, &created, "by staff").await;
    assert!(image["errors"].is_null(), "{image}");
    let id = &image["data"]["confirmUpload"]["id"];
    let remove = "mutation($i: ID!) { removeImage(imageId: $i) { id } }";
    assert_eq!(error_codes(&app.graphql_as(&shop.rival, remove, json!({ "i": id })).await), ["FORBIDDEN"]);
    assert_eq!(app.count_rows("product_images").await, 1);
}

async fn the_demo_catalog_shows_pictures(store: Store) {
    let app = TestApp::spawn(store).await;
    app.load_demo().await;
    let written = aeternum::media::demo::ensure_placeholders(&app.media).await.unwrap();
    assert_eq!(written, aeternum::seed::demo::placeholders().len());
    assert_eq!(aeternum::media::demo::ensure_placeholders(&app.media).await.unwrap(), 0, "written once");
    let data = app.data("{ products(first: 5) { nodes { images(first: 1) { url small: url(width: 300) width height blurHash } } } }", json!({})).await;
    for product in data["products"]["nodes"].as_array().unwrap() {
        let image = &product["images"][0];
        assert_eq!((image["width"].as_i64(), image["height"].as_i64()), (Some(480), Some(600)));
        assert!(image["blurHash"].as_str().is_some_and(|h| h.len() >= 6), "{image}");
        let response = app.client.get(image["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{image}");
        assert_eq!(response.headers()["content-type"], "image/webp");
        let picture = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
        assert_eq!((picture.width(), picture.height()), (480, 600));
    }

    // Placeholders are shared: removing one product's image leaves every other product's.
    let sharing = "SELECT object_key FROM product_images GROUP BY object_key HAVING COUNT(*) > 1";
    let conn = app.db.conn();
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sharing)).await.unwrap().unwrap();
    let key: String = row.try_get("", "object_key").unwrap();
    let image = entity::product_image::Entity::find()
        .filter(entity::product_image::Column::ObjectKey.eq(key.clone()))
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    create_user(&app.db, "staff@example.com", PASSWORD, "Staff", Role::Staff, None).await.unwrap();
    let staff = Credential::Bearer(app.sign_in("staff@example.com", PASSWORD).await.0);
    let id = aeternum::graphql::ids::GlobalId::encode(aeternum::graphql::ids::NodeType::ProductImage, image.id);
    let removed =
        app.graphql_as(&staff, "mutation($i: ID!) { removeImage(imageId: $i) { id } }", json!({ "i": id })).await;
    assert!(removed["errors"].is_null(), "{removed}");
    assert!(app.media.store().size(&key).await.unwrap().is_some(), "{key} is still there for the others");
    let served = app.client.get(app.media.public_url(&key)).send().await.unwrap();
    assert_eq!(served.status(), 200);
}
