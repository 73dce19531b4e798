//! Seeding: synthetic catalogs of any size load completely, in batches.

use entity::{product, product_image};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::{Store, TestApp};

async fn a_synthetic_catalog_loads_every_product_with_its_image(store: Store) {
    let app = TestApp::spawn(store).await;
    // Not a multiple of any batch size, so partial batches are exercised.
    aeternum::seed::synthetic::load(&app.db, 2_345).await.unwrap();
    aeternum::seed::synthetic::load(&app.db, 10).await.unwrap();
    assert_eq!(product::Entity::find().count(app.db.conn()).await.unwrap(), 2_355);
    assert_eq!(product_image::Entity::find().count(app.db.conn()).await.unwrap(), 2_355);
    let data = app
        .data("{ products(first: 3) { totalCount edges { node { vendor { name } images { url } } } } }", json!({}))
        .await;
    assert_eq!(data["products"]["totalCount"], 2_355);
}

store_tests!(a_synthetic_catalog_loads_every_product_with_its_image);
