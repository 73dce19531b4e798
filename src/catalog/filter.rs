//! Product filters: the GraphQL input, its parsed form, and the SQL condition it becomes.
//!
//! Filtering happens in SQL, before pagination, so every page is full.

use async_graphql::{ID, InputObject};
use entity::{category, product};
use sea_orm::ActiveEnum;
use sea_orm::ExprTrait;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, DatabaseBackend};
use uuid::Uuid;

use super::types::{ProductCondition, ProductStatus};
use crate::db::dialect;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::graphql::ids::{GlobalId, NodeType};
use crate::identity::{Permission, Viewer};
use crate::money::{Currency, Money};

/// Most values one filter list may hold.
pub const MAX_FILTER_VALUES: usize = 50;
/// Most free-form attribute filters in one query.
pub const MAX_ATTRIBUTE_FILTERS: usize = 10;
/// Longest filter value, in characters.
pub const MAX_FILTER_VALUE_CHARS: usize = 100;

/// Statuses anyone may list. Drafts and archived products are visible to their vendor and staff.
pub const PUBLIC_STATUSES: [entity::ProductStatus; 3] =
    [entity::ProductStatus::Active, entity::ProductStatus::Reserved, entity::ProductStatus::Sold];

/// Which products to list. Conditions combine with AND; values within a list with OR.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Products filed under this category or any of its descendants.
    pub category_id: Option<ID>,
    /// Products of any of these vendors.
    pub vendor_ids: Option<Vec<ID>>,
    /// Products priced within this range.
    pub price: Option<PriceRangeInput>,
    /// Products in any of these statuses. Defaults to the publicly visible ones: ACTIVE,
    /// RESERVED and SOLD.
    pub statuses: Option<Vec<ProductStatus>>,
    /// `true`: only products that can be bought now (ACTIVE with stock); `false`: only those
    /// that cannot.
    pub available: Option<bool>,
    /// Products of any of these brands (exact match).
    pub brands: Option<Vec<String>>,
    /// Products of any of these sizes (exact match).
    pub sizes: Option<Vec<String>>,
    /// Products of any of these colours (exact match).
    pub colours: Option<Vec<String>>,
    /// Products of any of these materials (exact match).
    pub materials: Option<Vec<String>>,
    /// Products in any of these conditions.
    pub conditions: Option<Vec<ProductCondition>>,
    /// Products of any of these eras (exact match).
    pub eras: Option<Vec<String>>,
    /// Free-form attributes: each entry matches products whose attribute `name` has one of
    /// `values`.
    pub attributes: Option<Vec<AttributeFilterInput>>,
}

/// A price range in one currency. Bounds are inclusive decimal amounts such as `"150.00"`.
#[derive(InputObject)]
pub struct PriceRangeInput {
    /// ISO 4217 currency code; only products priced in it match.
    pub currency_code: String,
    /// Lowest price, inclusive.
    pub min_amount: Option<String>,
    /// Highest price, inclusive.
    pub max_amount: Option<String>,
}

/// A free-form attribute filter.
#[derive(InputObject)]
pub struct AttributeFilterInput {
    /// Attribute name: 1 to 40 of `a-z`, `0-9` and `_`.
    pub name: String,
    /// Accepted values (exact match).
    pub values: Vec<String>,
}

/// A parsed, bounded product filter.
#[derive(Clone, Debug, Default)]
pub struct ProductCriteria {
    /// Category whose subtree matches.
    pub category: Option<Uuid>,
    /// Vendors that match.
    pub vendors: Vec<Uuid>,
    /// Currency and inclusive bounds in minor units.
    pub price: Option<(Currency, Option<i64>, Option<i64>)>,
    /// Statuses that match; never empty.
    pub statuses: Vec<entity::ProductStatus>,
    /// Availability wanted, if any.
    pub available: Option<bool>,
    /// Structured attributes: column and accepted values.
    pub columns: Vec<(product::Column, Vec<String>)>,
    /// Conditions that match.
    pub conditions: Vec<entity::ProductCondition>,
    /// Free-form attributes: name and accepted values.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl ProductCriteria {
    /// The default listing: every publicly visible product.
    pub fn public() -> Self {
        Self { statuses: PUBLIC_STATUSES.to_vec(), ..Self::default() }
    }

    /// Parses and bounds a filter for `viewer`. Drafts and archived products can be listed by
    /// staff, and by a vendor's accounts when the filter names only their vendor.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for malformed IDs or amounts, too many or too long values, an inverted
    /// price range; `UNAUTHENTICATED` or `FORBIDDEN` when asking for statuses the caller may not
    /// see.
    pub fn parse(filter: ProductFilter, viewer: &Viewer) -> AppResult<Self> {
        let mut criteria = Self::public();
        criteria.category = filter.category_id.map(|id| GlobalId::parse_as(&id, NodeType::Category)).transpose()?;
        criteria.vendors = bounded("vendorIds", filter.vendor_ids.unwrap_or_default())?
            .iter()
            .map(|id| GlobalId::parse_as(id, NodeType::Vendor))
            .collect::<AppResult<_>>()?;
        criteria.price = filter.price.map(parse_price_range).transpose()?;
        if let Some(statuses) = filter.statuses {
            let statuses: Vec<entity::ProductStatus> =
                bounded("statuses", statuses)?.into_iter().map(Into::into).collect();
            if statuses.is_empty() {
                return Err(AppError::bad_input("`statuses` must not be empty; omit it for the default"));
            }
            let own_vendor_only = viewer.vendor_id().is_some_and(|own| criteria.vendors == [own]);
            let may_see_hidden = viewer.can(Permission::CatalogReadPrivate) || own_vendor_only;
            if let Some(hidden) = statuses.iter().find(|s| !PUBLIC_STATUSES.contains(s))
                && !may_see_hidden
            {
                let message = format!(
                    "listing {} products needs catalog:read:private, or a vendor account filtering by its own vendor",
                    hidden.to_value()
                );
                let code = if viewer.is_anonymous() { ErrorCode::Unauthenticated } else { ErrorCode::Forbidden };
                return Err(AppError::new(code, message));
            }
            criteria.statuses = statuses;
        }
        criteria.available = filter.available;
        for (name, column, values) in [
            ("brands", product::Column::Brand, filter.brands),
            ("sizes", product::Column::Size, filter.sizes),
            ("colours", product::Column::Colour, filter.colours),
            ("materials", product::Column::Material, filter.materials),
            ("eras", product::Column::Era, filter.eras),
        ] {
            if let Some(values) = values {
                criteria.columns.push((column, bounded_strings(name, values)?));
            }
        }
        criteria.conditions =
            bounded("conditions", filter.conditions.unwrap_or_default())?.into_iter().map(Into::into).collect();
        let attributes = filter.attributes.unwrap_or_default();
        if attributes.len() > MAX_ATTRIBUTE_FILTERS {
            return Err(AppError::bad_input(format!("at most {MAX_ATTRIBUTE_FILTERS} attribute filters are allowed")));
        }
        for attribute in attributes {
            let valid_name = !attribute.name.is_empty()
                && attribute.name.len() <= 40
                && attribute.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_name {
                return Err(AppError::bad_input("attribute names are 1 to 40 of a-z, 0-9 and _"));
            }
            criteria.attributes.push((attribute.name, bounded_strings("attributes.values", attribute.values)?));
        }
        Ok(criteria)
    }

    /// The SQL condition selecting the matching products. `category_path` is the materialised
    /// path of [`ProductCriteria::category`], looked up by the caller.
    pub fn condition(&self, backend: DatabaseBackend, category_path: Option<&str>) -> Condition {
        let mut condition = Condition::all().add(product::Column::Status.is_in(self.statuses.iter().copied()));
        if let Some(path) = category_path {
            // The category's subtree: every category whose materialised path starts with its
            // path. Paths hold only hex digits, hyphens and slashes, so nothing needs escaping.
            let subtree = Query::select()
                .column(category::Column::Id)
                .from(category::Entity)
                .and_where(category::Column::Path.starts_with(path))
                .to_owned();
            condition = condition.add(product::Column::CategoryId.in_subquery(subtree));
        }
        if !self.vendors.is_empty() {
            condition = condition.add(product::Column::VendorId.is_in(self.vendors.iter().copied()));
        }
        if let Some((currency, min, max)) = &self.price {
            condition = condition.add(product::Column::Currency.eq(currency.code()));
            if let Some(min) = min {
                condition = condition.add(product::Column::PriceMinor.gte(*min));
            }
            if let Some(max) = max {
                condition = condition.add(product::Column::PriceMinor.lte(*max));
            }
        }
        let buyable = Condition::all()
            .add(product::Column::Status.eq(entity::ProductStatus::Active))
            .add(product::Column::Stock.gt(0));
        match self.available {
            Some(true) => condition = condition.add(buyable),
            Some(false) => condition = condition.add(buyable.not()),
            None => {}
        }
        for (column, values) in &self.columns {
            condition = condition.add(column.is_in(values.iter().cloned()));
        }
        if !self.conditions.is_empty() {
            condition = condition.add(product::Column::Condition.is_in(self.conditions.iter().copied()));
        }
        for (name, values) in &self.attributes {
            let field = dialect::json_text_field(backend, "attributes", name);
            condition = condition.add(Expr::expr(field).is_in(values.iter().cloned()));
        }
        condition
    }
}

fn parse_price_range(range: PriceRangeInput) -> AppResult<(Currency, Option<i64>, Option<i64>)> {
    let currency = Currency::parse(&range.currency_code)?;
    let parse =
        |amount: Option<String>| amount.map(|a| Money::parse_amount(&a, currency).map(Money::minor_units)).transpose();
    let (min, max) = (parse(range.min_amount)?, parse(range.max_amount)?);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(AppError::bad_input("`price.minAmount` must not exceed `price.maxAmount`"));
    }
    Ok((currency, min, max))
}

fn bounded<T>(name: &str, values: Vec<T>) -> AppResult<Vec<T>> {
    if values.len() > MAX_FILTER_VALUES {
        return Err(AppError::bad_input(format!("`{name}` accepts at most {MAX_FILTER_VALUES} values")));
    }
    Ok(values)
}

fn bounded_strings(name: &str, values: Vec<String>) -> AppResult<Vec<String>> {
    let values = bounded(name, values)?;
    if values.is_empty() {
        return Err(AppError::bad_input(format!("`{name}` must not be empty; omit it to match all")));
    }
    if values.iter().any(|v| v.chars().count() > MAX_FILTER_VALUE_CHARS) {
        return Err(AppError::bad_input(format!("values of `{name}` are at most {MAX_FILTER_VALUE_CHARS} characters")));
    }
    Ok(values)
}
