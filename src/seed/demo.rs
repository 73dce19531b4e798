//! The demo catalog: a deterministic circular-fashion marketplace.
//!
//! Six vendors, a two-level category tree (5 departments, 19 categories) and 360 pre-owned
//! designer, vintage and archive pieces with varied titles, descriptions and attributes, so that
//! listing, filtering and search have something real to work on. The same build always loads
//! the same catalog.

use chrono::{DateTime, Duration, Utc};
use entity::{ProductCondition, ProductStatus};
use uuid::Uuid;

use super::Rng;
use crate::catalog::editing::{self, NewCategory, NewProduct, NewVendor};
use crate::catalog::input::Slug;
use crate::catalog::service;
use crate::db::Db;
use crate::error::ErrorCode;
use crate::money::{Currency, Money};

/// Number of products in the demo catalog.
pub const PRODUCT_COUNT: usize = 360;

const VENDORS: [(&str, &str, &str, &str); 6] = [
    (
        "maison-archive",
        "Maison Archive",
        "Paris",
        "Runway and archive pieces from the great Paris houses, authenticated in our Marais atelier.",
    ),
    (
        "second-act-vintage",
        "Second Act Vintage",
        "London",
        "Forty years of London dressing, sourced from private wardrobes and estate sales.",
    ),
    (
        "kyoto-closet",
        "Kyoto Closet",
        "Kyoto",
        "Japanese avant-garde and quiet luxury, from Tokyo collections of the 1980s onwards.",
    ),
    (
        "atelier-exchange",
        "The Atelier Exchange",
        "Milan",
        "Italian tailoring, leather goods and eveningwear, restored by hand when needed.",
    ),
    (
        "brooklyn-reworn",
        "Brooklyn Reworn",
        "New York",
        "Denim, workwear and downtown classics with a past, cleaned and repaired in Brooklyn.",
    ),
    (
        "nordic-loop",
        "Nordic Loop",
        "Copenhagen",
        "Scandinavian minimalism and outerwear built to last another lifetime.",
    ),
];

/// A leaf category: slug, name, item nouns, materials, sizes, base price in euros.
struct Leaf {
    slug: &'static str,
    name: &'static str,
    nouns: &'static [&'static str],
    materials: &'static [&'static str],
    sizes: &'static [&'static str],
    base_price: f64,
}

const WOMEN_SIZES: &[&str] = &["XS", "S", "M", "L", "FR 36", "FR 38", "IT 40", "IT 42"];
const MEN_SIZES: &[&str] = &["IT 46", "IT 48", "IT 50", "IT 52", "S", "M", "L", "XL"];
const ONE_SIZE: &[&str] = &["One Size"];

const DEPARTMENTS: [(&str, &str, &[Leaf]); 5] = [
    (
        "women",
        "Women",
        &[
            Leaf {
                slug: "dresses",
                name: "Dresses",
                nouns: &[
                    "Slip Dress",
                    "Wrap Dress",
                    "Evening Gown",
                    "Shift Dress",
                    "Cocktail Dress",
                    "Maxi Dress",
                    "Shirt Dress",
                ],
                materials: &["Silk", "Satin", "Crepe", "Velvet", "Chiffon", "Lace"],
                sizes: WOMEN_SIZES,
                base_price: 420.0,
            },
            Leaf {
                slug: "coats-jackets",
                name: "Coats & Jackets",
                nouns: &["Trench Coat", "Wrap Coat", "Cropped Jacket", "Bouclé Jacket", "Cocoon Coat", "Biker Jacket"],
                materials: &["Wool", "Cashmere", "Gabardine", "Tweed", "Lambskin", "Bouclé"],
                sizes: WOMEN_SIZES,
                base_price: 780.0,
            },
            Leaf {
                slug: "knitwear",
                name: "Knitwear",
                nouns: &["Cable-Knit Jumper", "Cardigan", "Turtleneck", "Mohair Sweater", "Knit Vest"],
                materials: &["Cashmere", "Merino Wool", "Mohair", "Alpaca", "Cotton"],
                sizes: WOMEN_SIZES,
                base_price: 260.0,
            },
            Leaf {
                slug: "skirts",
                name: "Skirts",
                nouns: &["Pleated Midi Skirt", "Pencil Skirt", "A-Line Skirt", "Mini Skirt", "Wrap Skirt"],
                materials: &["Wool", "Silk", "Leather", "Tweed", "Denim"],
                sizes: WOMEN_SIZES,
                base_price: 240.0,
            },
            Leaf {
                slug: "tops-blouses",
                name: "Tops & Blouses",
                nouns: &["Silk Blouse", "Pussy-Bow Blouse", "Camisole", "Poplin Shirt", "Corset Top"],
                materials: &["Silk", "Cotton Poplin", "Satin", "Linen", "Lace"],
                sizes: WOMEN_SIZES,
                base_price: 210.0,
            },
        ],
    ),
    (
        "men",
        "Men",
        &[
            Leaf {
                slug: "suits-tailoring",
                name: "Suits & Tailoring",
                nouns: &[
                    "Double-Breasted Suit",
                    "Single-Breasted Blazer",
                    "Tuxedo Jacket",
                    "Pleated Trousers",
                    "Three-Piece Suit",
                ],
                materials: &["Wool", "Wool Flannel", "Linen", "Mohair Blend", "Cotton Twill"],
                sizes: MEN_SIZES,
                base_price: 640.0,
            },
            Leaf {
                slug: "mens-outerwear",
                name: "Outerwear",
                nouns: &["Parka", "Bomber Jacket", "Overcoat", "Field Jacket", "Peacoat", "Chore Coat"],
                materials: &["Nylon", "Wool", "Waxed Cotton", "Suede", "Leather", "Canvas"],
                sizes: MEN_SIZES,
                base_price: 520.0,
            },
            Leaf {
                slug: "shirts",
                name: "Shirts",
                nouns: &["Oxford Shirt", "Camp-Collar Shirt", "Flannel Shirt", "Silk Shirt", "Denim Shirt"],
                materials: &["Cotton", "Silk", "Linen", "Flannel", "Chambray"],
                sizes: MEN_SIZES,
                base_price: 150.0,
            },
            Leaf {
                slug: "denim",
                name: "Denim",
                nouns: &["Selvedge Jeans", "Straight-Leg Jeans", "Trucker Jacket", "Carpenter Jeans", "Wide-Leg Jeans"],
                materials: &["Selvedge Denim", "Raw Denim", "Stonewashed Denim", "Black Denim"],
                sizes: &["W28", "W30", "W32", "W34", "W36"],
                base_price: 180.0,
            },
        ],
    ),
    (
        "bags",
        "Bags",
        &[
            Leaf {
                slug: "handbags",
                name: "Handbags",
                nouns: &["Flap Bag", "Top-Handle Bag", "Shoulder Bag", "Saddle Bag", "Bucket Bag", "Baguette"],
                materials: &["Lambskin", "Calfskin", "Caviar Leather", "Canvas", "Nylon", "Crocodile-Effect Leather"],
                sizes: &["Mini", "Small", "Medium", "Large"],
                base_price: 1600.0,
            },
            Leaf {
                slug: "totes",
                name: "Totes",
                nouns: &["Tote", "Shopper", "Weekender", "Cabas"],
                materials: &["Canvas", "Calfskin", "Nylon", "Coated Canvas"],
                sizes: &["Medium", "Large"],
                base_price: 700.0,
            },
            Leaf {
                slug: "clutches",
                name: "Clutches",
                nouns: &["Clutch", "Envelope Clutch", "Minaudière", "Pouch"],
                materials: &["Satin", "Patent Leather", "Metallic Leather", "Velvet"],
                sizes: ONE_SIZE,
                base_price: 480.0,
            },
        ],
    ),
    (
        "shoes",
        "Shoes",
        &[
            Leaf {
                slug: "heels",
                name: "Heels",
                nouns: &["Slingback Pumps", "Stiletto Pumps", "Mules", "Strappy Sandals", "Mary Janes"],
                materials: &["Patent Leather", "Suede", "Satin", "Calfskin"],
                sizes: &["EU 36", "EU 37", "EU 38", "EU 39", "EU 40"],
                base_price: 360.0,
            },
            Leaf {
                slug: "boots",
                name: "Boots",
                nouns: &["Knee-High Boots", "Chelsea Boots", "Ankle Boots", "Combat Boots", "Cowboy Boots"],
                materials: &["Calfskin", "Suede", "Shearling-Lined Leather", "Patent Leather"],
                sizes: &["EU 37", "EU 38", "EU 40", "EU 42", "EU 44"],
                base_price: 420.0,
            },
            Leaf {
                slug: "sneakers",
                name: "Sneakers",
                nouns: &["Low-Top Sneakers", "High-Top Sneakers", "Runner Sneakers", "Court Sneakers"],
                materials: &["Leather", "Suede", "Canvas", "Mesh"],
                sizes: &["EU 38", "EU 40", "EU 42", "EU 43", "EU 45"],
                base_price: 280.0,
            },
        ],
    ),
    (
        "accessories",
        "Accessories",
        &[
            Leaf {
                slug: "scarves",
                name: "Scarves",
                nouns: &["Silk Twill Scarf", "Cashmere Scarf", "Printed Square Scarf", "Wool Stole"],
                materials: &["Silk Twill", "Cashmere", "Wool", "Modal"],
                sizes: ONE_SIZE,
                base_price: 220.0,
            },
            Leaf {
                slug: "jewellery",
                name: "Jewellery",
                nouns: &[
                    "Chain Necklace",
                    "Hoop Earrings",
                    "Signet Ring",
                    "Cuff Bracelet",
                    "Brooch",
                    "Pendant Necklace",
                ],
                materials: &["Gold-Plated Brass", "Sterling Silver", "18k Gold", "Enamel", "Resin"],
                sizes: ONE_SIZE,
                base_price: 380.0,
            },
            Leaf {
                slug: "belts",
                name: "Belts",
                nouns: &["Logo Belt", "Leather Belt", "Chain Belt", "Corset Belt"],
                materials: &["Calfskin", "Patent Leather", "Gold-Tone Metal", "Suede"],
                sizes: &["75", "80", "85", "90"],
                base_price: 260.0,
            },
            Leaf {
                slug: "sunglasses",
                name: "Sunglasses",
                nouns: &[
                    "Cat-Eye Sunglasses",
                    "Aviator Sunglasses",
                    "Shield Sunglasses",
                    "Round Sunglasses",
                    "Oversized Sunglasses",
                ],
                materials: &["Acetate", "Metal", "Tortoiseshell Acetate"],
                sizes: ONE_SIZE,
                base_price: 230.0,
            },
        ],
    ),
];

/// Brands and their price multipliers.
const BRANDS: [(&str, f64); 24] = [
    ("Chanel", 3.0),
    ("Hermès", 3.5),
    ("Prada", 2.0),
    ("Gucci", 2.0),
    ("Dior", 2.5),
    ("Saint Laurent", 2.0),
    ("Comme des Garçons", 1.6),
    ("Issey Miyake", 1.5),
    ("Yohji Yamamoto", 1.6),
    ("Maison Margiela", 1.7),
    ("Celine", 1.8),
    ("Jil Sander", 1.3),
    ("Helmut Lang", 1.2),
    ("Vivienne Westwood", 1.3),
    ("Levi's", 0.4),
    ("Burberry", 1.3),
    ("Max Mara", 1.2),
    ("Acne Studios", 0.8),
    ("Ganni", 0.5),
    ("Loewe", 1.8),
    ("Bottega Veneta", 2.2),
    ("Valentino", 1.8),
    ("Jean Paul Gaultier", 1.5),
    ("Moschino", 1.0),
];
const ERAS: [&str; 5] = ["1970s", "1980s", "1990s", "2000s", "2010s"];
const COLOURS: [&str; 12] = [
    "Black",
    "Ivory",
    "Camel",
    "Navy",
    "Burgundy",
    "Forest Green",
    "Crimson",
    "Dusty Pink",
    "Charcoal",
    "Cobalt Blue",
    "Ochre",
    "Silver",
];
const PATTERNS: [&str; 7] = ["solid", "houndstooth", "floral", "striped", "monogram", "check", "polka dot"];
const ORIGINS: [&str; 7] = ["Italy", "France", "Japan", "United Kingdom", "Spain", "Portugal", "USA"];
const DETAILS: [&str; 12] = [
    "tonal topstitching",
    "a concealed zip",
    "horn buttons",
    "a silk lining",
    "gold-tone hardware",
    "hand-finished seams",
    "a fluid drape",
    "softly padded shoulders",
    "a sculpted waist",
    "contrast piping",
    "the original dust bag",
    "its original buttons",
];
const CONDITIONS: [(ProductCondition, &str, f64); 5] = [
    (ProductCondition::NewWithTags, "Never worn and still carrying its original tags.", 1.25),
    (ProductCondition::Excellent, "Worn a handful of times, with no visible signs of wear.", 1.1),
    (ProductCondition::VeryGood, "Light signs of wear, invisible when worn; professionally cleaned.", 1.0),
    (ProductCondition::Good, "Minor marks consistent with age, shown in the detail photographs.", 0.85),
    (ProductCondition::Fair, "Visible wear described in full below; priced accordingly.", 0.65),
];
const VIEWS: [&str; 4] = ["front", "back", "detail", "label"];

/// Loads the demo catalog unless the catalog already holds products.
///
/// # Errors
/// When the store fails.
pub async fn load_if_empty(db: &Db) -> anyhow::Result<()> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let products = entity::product::Entity::find().count(db.conn()).await?;
    if products > 0 {
        tracing::info!(products, "catalog not empty; demo catalog not loaded");
        return Ok(());
    }
    load(db).await
}

/// Loads the demo catalog; does nothing when it is already there.
///
/// # Errors
/// When the store fails.
pub async fn load(db: &Db) -> anyhow::Result<()> {
    let fail = |e: crate::AppError| anyhow::anyhow!("loading the demo catalog failed: {e:?}");
    match service::vendor_by_slug(db, VENDORS[0].0).await {
        Ok(_) => {
            tracing::info!("demo catalog already loaded");
            return Ok(());
        }
        Err(e) if e.code() == ErrorCode::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    let mut vendors = Vec::new();
    for (slug, name, city, description) in VENDORS {
        let new = NewVendor { slug: slug.into(), name: name.into(), description: description.into() };
        vendors.push((editing::create_vendor(db, new).await.map_err(fail)?.id, city));
    }
    let mut leaves = Vec::new();
    for (position, (slug, name, children)) in DEPARTMENTS.iter().enumerate() {
        let new =
            NewCategory { slug: (*slug).into(), name: (*name).into(), parent_id: None, position: position as i32 };
        let department = editing::create_category(db, new).await.map_err(fail)?;
        for (position, leaf) in children.iter().enumerate() {
            let new = NewCategory {
                slug: leaf.slug.into(),
                name: leaf.name.into(),
                parent_id: Some(department.id),
                position: position as i32,
            };
            leaves.push((editing::create_category(db, new).await.map_err(fail)?.id, leaf));
        }
    }
    let products = products(&vendors, &leaves);
    let count = editing::insert_products(db, products).await.map_err(fail)?;
    tracing::info!(
        vendors = vendors.len(),
        categories = DEPARTMENTS.len() + leaves.len(),
        products = count,
        "demo catalog loaded"
    );
    Ok(())
}

fn products(vendors: &[(Uuid, &str)], leaves: &[(Uuid, &Leaf)]) -> Vec<NewProduct> {
    let mut rng = Rng::new(0xAE7E_2026);
    let epoch = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01
    (0..PRODUCT_COUNT)
        .map(|i| {
            let (category_id, leaf) = leaves[i % leaves.len()];
            let (vendor_id, city) = *rng.pick(vendors);
            let (brand, tier) = *rng.pick(&BRANDS);
            let era = *rng.pick(&ERAS);
            let colour = *rng.pick(&COLOURS);
            let material = *rng.pick(leaf.materials);
            let noun = *rng.pick(leaf.nouns);
            let (condition, condition_text, condition_factor) = CONDITIONS[[0, 1, 1, 2, 2, 2, 3, 3, 4][rng.below(9)]];
            let title = match rng.below(4) {
                0 => format!("{brand} {era} {material} {noun}"),
                1 => format!("{brand} {colour} {material} {noun}"),
                2 => format!("{era} {brand} {colour} {noun}"),
                _ => format!("{brand} {noun} in {colour} {material}"),
            };
            let price = leaf.base_price * tier * condition_factor * (0.7 + rng.unit() * 0.8);
            let price_minor = ((price / 5.0).round().max(1.0) as i64) * 500;
            let status = if i % 37 == 5 { ProductStatus::Draft } else { ProductStatus::Active };
            let stock = if leaf.sizes == ONE_SIZE && rng.below(3) == 0 { 2 } else { 1 };
            let description = [
                match rng.below(3) {
                    0 => format!("An archive {} from {brand}'s {era} collections.", noun.to_lowercase()),
                    1 => format!("A {} by {brand}, made in the {era}.", noun.to_lowercase()),
                    _ => format!("Rare {era} {} from {brand}, a collector's piece.", noun.to_lowercase()),
                },
                format!("{colour} {}, finished with {}.", material.to_lowercase(), rng.pick(&DETAILS)),
                condition_text.to_owned(),
                format!("Authenticated by our specialists and shipped from {city} within two working days."),
            ]
            .join(" ");
            let slug = Slug::from_text(&format!("{title} {i}"))
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| format!("piece-{i}"));
            let images = (0..1 + rng.below(4))
                .map(|n| (format!("/media/demo/{slug}/{n}.jpg"), format!("{title}, {} view", VIEWS[n])))
                .collect();
            NewProduct {
                vendor_id,
                category_id,
                sku: format!("AE-{:05}", i + 1),
                title,
                description,
                brand: Some(brand.to_owned()),
                size: Some(rng.pick(leaf.sizes).to_string()),
                colour: Some(colour.to_owned()),
                material: Some(material.to_owned()),
                condition: Some(condition),
                era: Some(era.to_owned()),
                attributes: vec![
                    ("pattern".to_owned(), rng.pick(&PATTERNS).to_string()),
                    ("made_in".to_owned(), rng.pick(&ORIGINS).to_string()),
                ],
                price: Money::from_minor(price_minor, Currency::EUR),
                stock,
                status,
                images,
                slug: Some(slug),
                created_at: Some(epoch + Duration::minutes(157 * i as i64)),
                cost: None,
                internal_notes: String::new(),
                one_of_a_kind: stock <= 1,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_deterministic_and_varied() {
        let vendors: Vec<(Uuid, &str)> = VENDORS.iter().map(|v| (Uuid::nil(), v.2)).collect();
        let leaves: Vec<(Uuid, &Leaf)> =
            DEPARTMENTS.iter().flat_map(|d| d.2.iter()).map(|l| (Uuid::nil(), l)).collect();
        let first = products(&vendors, &leaves);
        let second = products(&vendors, &leaves);
        assert_eq!(first.len(), PRODUCT_COUNT);
        assert!(leaves.len() >= 12);
        assert_eq!(
            first.iter().map(|p| &p.title).collect::<Vec<_>>(),
            second.iter().map(|p| &p.title).collect::<Vec<_>>()
        );
        let titles: std::collections::HashSet<_> = first.iter().map(|p| &p.title).collect();
        assert!(titles.len() > PRODUCT_COUNT * 9 / 10, "titles should be varied");
        let slugs: std::collections::HashSet<_> = first.iter().map(|p| &p.slug).collect();
        assert_eq!(slugs.len(), PRODUCT_COUNT, "slugs are unique");
    }
}
