//! Catalog writes: vendors, categories and products created and changed under one set of
//! rules, whoever calls (the mutations, the seeders, the command line).

mod products;
mod vendors_and_categories;

pub use products::{NewImage, NewProduct, ProductPatch, StoredImage, create_product, insert_products, update_product};
pub use vendors_and_categories::{
    MAX_CATEGORY_DEPTH, NewCategory, NewVendor, create_category, create_vendor, update_category, update_vendor,
};
