//! A small, fully known catalog for exact assertions.

use aeternum::catalog::editing::{self, NewCategory, NewProduct, NewVendor};
use aeternum::db::Db;
use entity::{ProductCondition, ProductStatus, category, product, vendor};
use uuid::Uuid;

pub struct Catalog {
    pub vendors: Vec<vendor::Model>,
    /// `clothing` (root) > `dresses`, `coats`; `bags` (root).
    pub clothing: category::Model,
    pub dresses: category::Model,
    pub coats: category::Model,
    pub bags: category::Model,
    pub products: Vec<product::Model>,
}

pub async fn vendor(db: &Db, slug: &str) -> vendor::Model {
    let new = NewVendor { slug: slug.into(), name: format!("Vendor {slug}"), description: "Fixture".into() };
    editing::create_vendor(db, new).await.unwrap()
}

pub async fn category(db: &Db, slug: &str, parent: Option<Uuid>) -> category::Model {
    let new = NewCategory { slug: slug.into(), name: slug.to_uppercase(), parent_id: parent, position: 0 };
    editing::create_category(db, new).await.unwrap()
}

/// A valid product; tests override what they care about.
pub fn new_product(n: usize, vendor: Uuid, category: Uuid) -> NewProduct {
    NewProduct {
        vendor_id: vendor,
        category_id: category,
        slug: Some(format!("piece-{n}")),
        sku: format!("FX-{n:04}"),
        title: format!("Piece {n}"),
        description: format!("Fixture piece number {n}"),
        brand: Some("Prada".into()),
        size: Some("M".into()),
        colour: Some("Black".into()),
        material: Some("Wool".into()),
        condition: Some(ProductCondition::VeryGood),
        era: Some("1990s".into()),
        attributes: vec![("pattern".into(), "solid".into())],
        price_minor: 10_000,
        currency: "EUR".into(),
        stock: 1,
        status: ProductStatus::Active,
        images: vec![(format!("/media/{n}/0.jpg"), format!("Piece {n}"))],
        created_at: None,
        cost_minor: None,
        internal_notes: String::new(),
        one_of_a_kind: false,
    }
}

/// 40 products across 3 vendors and 3 leaf categories, with deliberate ties in price and title
/// (so tie-breaking is exercised) and a mix of statuses, brands and attributes.
pub async fn catalog(db: &Db) -> Catalog {
    let vendors = vec![vendor(db, "alpha").await, vendor(db, "beta").await, vendor(db, "gamma").await];
    let clothing = category(db, "clothing", None).await;
    let dresses = category(db, "dresses", Some(clothing.id)).await;
    let coats = category(db, "coats", Some(clothing.id)).await;
    let bags = category(db, "bags", None).await;
    let leaves = [&dresses, &coats, &bags];
    let mut products = Vec::new();
    for n in 0..40 {
        let mut new = new_product(n, vendors[n % 3].id, leaves[n % 3].id);
        new.title = format!("Piece {}", n % 8); // five products share each title
        new.price_minor = 5_000 * (1 + (n as i64 % 6)); // prices tie in groups
        new.brand = Some(["Prada", "Celine", "Loewe", "Dior"][n % 4].into());
        new.condition = Some([ProductCondition::Excellent, ProductCondition::Good][n % 2]);
        new.attributes = vec![("pattern".into(), ["solid", "check", "floral"][n % 3].into())];
        new.status = match n % 10 {
            3 => ProductStatus::Sold,
            7 => ProductStatus::Reserved,
            9 => ProductStatus::Draft,
            _ => ProductStatus::Active,
        };
        new.stock = if n % 10 == 5 { 0 } else { 1 };
        products.push(editing::create_product(db, new).await.unwrap());
    }
    Catalog { vendors, clothing, dresses, coats, bags, products }
}

impl Catalog {
    /// Products anyone may list.
    pub fn public(&self) -> impl Iterator<Item = &product::Model> {
        self.products.iter().filter(|p| p.status != ProductStatus::Draft && p.status != ProductStatus::Archived)
    }
}
