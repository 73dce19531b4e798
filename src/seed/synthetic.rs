//! Synthetic catalogs of any size, for load tests and benchmarks.
//!
//! Products are written with multi-row `INSERT`s in batches; 100,000 products with an image each
//! load in seconds on PostgreSQL. A bulk load is not news: the stock and audit events its inserts
//! raise are discarded, not published to subscribers.

use std::time::Instant;

use anyhow::Context;
use uuid::Uuid;

use super::Rng;
use crate::catalog::editing::{self, NewCategory, NewProduct, NewVendor};
use crate::catalog::service;
use crate::db::Db;
use crate::error::{AppError, ErrorCode};
use crate::money::{Currency, Money};

const VENDORS: usize = 8;
const ROOT_CATEGORIES: usize = 4;
const CHILD_CATEGORIES: usize = 4;
const CHUNK: u64 = 5_000;
const NOUNS: [&str; 10] = ["Coat", "Dress", "Bag", "Boots", "Scarf", "Jacket", "Skirt", "Shirt", "Belt", "Sneakers"];
const BRANDS: [&str; 8] = ["Prada", "Celine", "Loewe", "Acne Studios", "Jil Sander", "Gucci", "Ganni", "Dior"];
const COLOURS: [&str; 6] = ["Black", "Ivory", "Camel", "Navy", "Burgundy", "Olive"];
const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
const MATERIALS: [&str; 4] = ["Wool", "Silk", "Leather", "Cotton"];
const ERAS: [&str; 4] = ["1980s", "1990s", "2000s", "2010s"];
const FITS: [&str; 6] =
    ["cut close to the body", "cut loose", "cut long", "cropped at the waist", "cut on the bias", "cut straight"];
const FEATURES: [&str; 12] = [
    "a hand-finished hem",
    "horn buttons",
    "a detachable belt",
    "bound seams",
    "a quilted lining",
    "patch pockets",
    "a two-way zip",
    "contrast stitching",
    "a raw-edge collar",
    "brass hardware",
    "a storm flap",
    "an adjustable strap",
];
const PROVENANCES: [&str; 8] = [
    "bought at the Paris boutique",
    "from a private wardrobe in Milan",
    "from a stylist's archive",
    "kept in storage since it was bought",
    "from a London estate sale",
    "worn to a handful of dinners",
    "from the designer's outlet",
    "from a Copenhagen consignment",
];
const WEAR: [&str; 6] = [
    "no visible wear",
    "light wear at the cuffs",
    "a faint mark inside the lining",
    "slight fading along one seam",
    "minor scuffs on the hardware",
    "a small repair at the hem, barely visible",
];
const CARE: [&str; 4] =
    ["Dry clean only.", "Hand wash cold and dry flat.", "Store on a padded hanger.", "Brush gently after wear."];

/// What the synthetic products' descriptions are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Texts {
    /// One sentence that follows from the brand, colour and kind: 480 distinct product texts, as
    /// in a catalog of many units of few models (reindexing embeds each text once).
    #[default]
    Shared,
    /// A paragraph of its own for every product (about 70 words), as in a catalog of one-off
    /// pieces: reindexing embeds every product.
    Paragraphs,
}

/// Adds `count` synthetic products (with one image each) to the catalog, creating synthetic
/// vendors and categories when missing.
///
/// # Errors
/// When the store fails.
pub async fn load(db: &Db, count: u64, texts: Texts) -> anyhow::Result<()> {
    let started = Instant::now();
    let vendors = ensure_vendors(db).await?;
    let categories = ensure_categories(db).await?;
    let run = Uuid::now_v7().simple().to_string()[20..].to_uppercase();
    let mut rng = Rng::new(count ^ 0xAE7E);
    let mut written = 0;
    while written < count {
        let chunk = (count - written).min(CHUNK);
        let products = (written..written + chunk)
            .map(|i| {
                // A product's text follows from its brand, colour and kind (480 distinct texts), as
                // in a catalog of many units of few models; so do its category, size, material
                // and era. Vendors, prices and stock vary freely.
                let (n, b, c) = (rng.below(NOUNS.len()), rng.below(BRANDS.len()), rng.below(COLOURS.len()));
                let (noun, brand, colour) = (NOUNS[n], BRANDS[b], COLOURS[c]);
                let (material, era) = (MATERIALS[n % MATERIALS.len()], ERAS[b % ERAS.len()]);
                let title = format!("{brand} {colour} {noun}");
                let description = match texts {
                    Texts::Shared => format!("{colour} {noun} by {brand}, a synthetic product for load testing."),
                    Texts::Paragraphs => paragraph(&mut rng, i, [noun, brand, colour, material, era]),
                };
                NewProduct {
                    vendor_id: *rng.pick(&vendors),
                    category_id: categories[n % categories.len()],
                    slug: Some(format!("syn-{}-{i}", run.to_lowercase())),
                    sku: format!("SYN-{run}-{i}"),
                    description,
                    brand: Some(brand.to_owned()),
                    size: Some(SIZES[(n + b) % SIZES.len()].to_owned()),
                    colour: Some(colour.to_owned()),
                    material: Some(material.to_owned()),
                    condition: Some(entity::ProductCondition::VeryGood),
                    era: Some(era.to_owned()),
                    attributes: Vec::new(),
                    price: Money::from_minor(1_000 + (rng.below(200_000) as i64) * 5, Currency::EUR),
                    stock: 1 + rng.below(3) as i32,
                    status: entity::ProductStatus::Active,
                    images: vec![super::demo::placeholder_image(
                        usize::try_from(i).unwrap_or_default(),
                        0,
                        title.clone(),
                    )],
                    title,
                    created_at: None,
                    cost: None,
                    internal_notes: String::new(),
                    one_of_a_kind: false,
                }
            })
            .collect();
        editing::insert_products(db, products).await.map_err(AppError::into_anyhow)?;
        written += chunk;
        tracing::info!(written, total = count, "inserting synthetic products");
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        products = count,
        seconds,
        per_second = count as f64 / seconds.max(1e-9),
        "synthetic catalog loaded"
    );
    Ok(())
}

/// A description of its own for product `i`: the noun, brand, colour, material and era it is,
/// with its cut, details, provenance, wear and measures drawn from `rng`.
fn paragraph(rng: &mut Rng, i: u64, [noun, brand, colour, material, era]: [&str; 5]) -> String {
    let material = material.to_lowercase();
    let (fit, first, second) = (rng.pick(&FITS), rng.pick(&FEATURES), rng.pick(&FEATURES));
    let (provenance, wear, care) = (rng.pick(&PROVENANCES), rng.pick(&WEAR), rng.pick(&CARE));
    let (across, long) = (30 + rng.below(40), 40 + rng.below(80));
    let noun = noun.to_lowercase();
    format!(
        "{colour} {material} {noun} by {brand}, {fit}, with {first} and {second}. Piece {i} of our {era} archive, \
         {provenance}, with {wear}. It measures {across} cm across and {long} cm long. {care} It ships in its \
         original dust bag with the {brand} care card and a condition report signed by our authenticator."
    )
}

async fn ensure_vendors(db: &Db) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(VENDORS);
    for n in 0..VENDORS {
        let slug = format!("synthetic-vendor-{n}");
        let vendor = match service::vendor_by_slug(db, &slug).await {
            Ok(vendor) => vendor,
            Err(e) if e.code() == ErrorCode::NotFound => editing::create_vendor(
                db,
                NewVendor { slug, name: format!("Synthetic Vendor {n}"), description: String::new() },
            )
            .await
            .map_err(AppError::into_anyhow)?,
            Err(e) => return Err(e.into_anyhow()).context("cannot look up synthetic vendors"),
        };
        ids.push(vendor.id);
    }
    Ok(ids)
}

async fn ensure_categories(db: &Db) -> anyhow::Result<Vec<Uuid>> {
    let mut leaves = Vec::new();
    for root in 0..ROOT_CATEGORIES {
        let root_id = ensure_category(db, format!("synthetic-{root}"), None, root).await?;
        for child in 0..CHILD_CATEGORIES {
            leaves.push(ensure_category(db, format!("synthetic-{root}-{child}"), Some(root_id), child).await?);
        }
    }
    Ok(leaves)
}

async fn ensure_category(db: &Db, slug: String, parent_id: Option<Uuid>, position: usize) -> anyhow::Result<Uuid> {
    match service::category_by_slug(db, &slug).await {
        Ok(category) => Ok(category.id),
        Err(e) if e.code() == ErrorCode::NotFound => {
            let name = format!("Synthetic {}", slug.trim_start_matches("synthetic-"));
            let new = NewCategory { slug, name, parent_id, position: position as i32 };
            Ok(editing::create_category(db, new).await.map_err(AppError::into_anyhow)?.id)
        }
        Err(e) => Err(e.into_anyhow()).context("cannot look up synthetic categories"),
    }
}
