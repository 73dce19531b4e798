//! A small, fully known catalog for exact assertions.

use aeternum::catalog::editing::{self, NewCategory, NewProduct, NewVendor};
use aeternum::db::Db;
use aeternum::money::{Currency, Money};
use entity::{ProductCondition, ProductStatus, category, product, vendor};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
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

/// An amount in euros.
pub fn eur(minor_units: i64) -> Money {
    Money::from_minor(minor_units, Currency::EUR)
}

/// Puts a product in a state only an order reaches (RESERVED, or SOLD at its price), as if one
/// had; the catalog itself creates products DRAFT or ACTIVE only.
pub async fn held_by_an_order(db: &Db, product: product::Model, status: ProductStatus) -> product::Model {
    let sold_price = (status == ProductStatus::Sold).then_some(product.price_minor);
    let mut held: product::ActiveModel = product.into();
    held.status = Set(status);
    held.stock = Set(0);
    held.sold_price_minor = Set(sold_price);
    held.update(db.conn()).await.unwrap()
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
        price: eur(10_000),
        stock: 1,
        status: ProductStatus::Active,
        images: vec![aeternum::catalog::editing::NewImage::at(
            format!("https://images.example.com/{n}/0.jpg"),
            format!("Piece {n}"),
        )],
        created_at: None,
        cost: None,
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
        new.price = eur(5_000 * (1 + (n as i64 % 6))); // prices tie in groups
        new.brand = Some(["Prada", "Celine", "Loewe", "Dior"][n % 4].into());
        new.condition = Some([ProductCondition::Excellent, ProductCondition::Good][n % 2]);
        new.attributes = vec![("pattern".into(), ["solid", "check", "floral"][n % 3].into())];
        new.status = if n % 10 == 9 { ProductStatus::Draft } else { ProductStatus::Active };
        new.stock = if n % 10 == 5 { 0 } else { 1 };
        let created = editing::create_product(db, new).await.unwrap();
        products.push(match n % 10 {
            3 => held_by_an_order(db, created, ProductStatus::Sold).await,
            7 => held_by_an_order(db, created, ProductStatus::Reserved).await,
            _ => created,
        });
    }
    Catalog { vendors, clothing, dresses, coats, bags, products }
}

impl Catalog {
    /// Products anyone may list.
    pub fn public(&self) -> impl Iterator<Item = &product::Model> {
        self.products.iter().filter(|p| p.status != ProductStatus::Draft && p.status != ProductStatus::Archived)
    }
}
