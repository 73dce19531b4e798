//! The demo catalog's vocabulary: vendors, departments and their categories, brands, colours,
//! materials and the phrases descriptions are built from.

use entity::ProductCondition;

pub(super) const VENDORS: [(&str, &str, &str, &str); 6] = [
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
pub(super) struct Leaf {
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    pub(super) nouns: &'static [&'static str],
    pub(super) materials: &'static [&'static str],
    pub(super) sizes: &'static [&'static str],
    pub(super) base_price: f64,
}

pub(super) const WOMEN_SIZES: &[&str] = &["XS", "S", "M", "L", "FR 36", "FR 38", "IT 40", "IT 42"];
pub(super) const MEN_SIZES: &[&str] = &["IT 46", "IT 48", "IT 50", "IT 52", "S", "M", "L", "XL"];
pub(super) const ONE_SIZE: &[&str] = &["One Size"];

pub(super) const DEPARTMENTS: [(&str, &str, &[Leaf]); 5] = [
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
pub(super) const BRANDS: [(&str, f64); 24] = [
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
pub(super) const ERAS: [&str; 5] = ["1970s", "1980s", "1990s", "2000s", "2010s"];
pub(super) const COLOURS: [&str; 12] = [
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
/// The sRGB shade of each of [`COLOURS`], for the placeholder pictures.
pub(super) const COLOUR_RGB: [[u8; 3]; 12] = [
    [38, 38, 40],
    [236, 230, 214],
    [193, 154, 107],
    [31, 45, 84],
    [110, 28, 45],
    [34, 85, 51],
    [168, 26, 36],
    [214, 160, 166],
    [70, 72, 76],
    [0, 71, 171],
    [204, 142, 42],
    [178, 180, 186],
];
pub(super) const PATTERNS: [&str; 7] = ["solid", "houndstooth", "floral", "striped", "monogram", "check", "polka dot"];
pub(super) const ORIGINS: [&str; 7] = ["Italy", "France", "Japan", "United Kingdom", "Spain", "Portugal", "USA"];
pub(super) const DETAILS: [&str; 12] = [
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
pub(super) const CONDITIONS: [(ProductCondition, &str, f64); 5] = [
    (ProductCondition::NewWithTags, "Never worn and still carrying its original tags.", 1.25),
    (ProductCondition::Excellent, "Worn a handful of times, with no visible signs of wear.", 1.1),
    (ProductCondition::VeryGood, "Light signs of wear, invisible when worn; professionally cleaned.", 1.0),
    (ProductCondition::Good, "Minor marks consistent with age, shown in the detail photographs.", 0.85),
    (ProductCondition::Fair, "Visible wear described in full below; priced accordingly.", 0.65),
];
pub(super) const VIEWS: [&str; 4] = ["front", "back", "detail", "label"];
