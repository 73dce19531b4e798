//! A shipping address: the input a client sends, parsed once at the edge into the valid
//! address that orders store and show.

use async_graphql::{InputObject, SimpleObject};
use entity::order;

use crate::error::{AppError, AppResult};
use crate::input::bounded_text;

/// A shipping address.
#[derive(SimpleObject, Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Address {
    /// Recipient's name.
    pub name: String,
    /// Street address.
    pub line1: String,
    /// More of the street address.
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Phone number for the carrier.
    pub phone: Option<String>,
}

/// A shipping address.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AddressInput {
    /// Recipient's name, up to 200 characters.
    pub name: String,
    /// Street address, up to 200 characters.
    pub line1: String,
    /// More of the street address.
    pub line2: Option<String>,
    /// City, up to 100 characters.
    pub city: String,
    /// Region, state or province.
    pub region: Option<String>,
    /// Postal code, up to 20 characters.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code, such as `FR`.
    pub country: String,
    /// Phone number for the carrier: digits, spaces and `+-()`.
    pub phone: Option<String>,
}

impl From<&order::Model> for Address {
    fn from(o: &order::Model) -> Self {
        Self {
            name: o.ship_name.clone(),
            line1: o.ship_line1.clone(),
            line2: o.ship_line2.clone(),
            city: o.ship_city.clone(),
            region: o.ship_region.clone(),
            postal_code: o.ship_postal_code.clone(),
            country: o.ship_country.clone(),
            phone: o.ship_phone.clone(),
        }
    }
}

impl Address {
    /// Checks every field: required ones present, lengths bounded, the country a two-letter code,
    /// the phone made of digits, spaces and `+-()`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` naming the first bad field.
    pub fn parse(raw: AddressInput) -> AppResult<Self> {
        let optional = |field: &str, value: Option<String>, max: usize| -> AppResult<Option<String>> {
            value.filter(|v| !v.trim().is_empty()).map(|v| bounded_text(field, v.trim(), max, true)).transpose()
        };
        let country = raw.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AppError::bad_input("the shipping country must be a two-letter ISO 3166-1 code, such as FR"));
        }
        let phone = optional("shipping phone", raw.phone, 32)?;
        if phone.as_deref().is_some_and(|p| !p.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c))) {
            return Err(AppError::bad_input("the shipping phone may hold only digits, spaces and + - ( )"));
        }
        Ok(Self {
            name: bounded_text("shipping name", raw.name.trim(), 200, true)?,
            line1: bounded_text("shipping line1", raw.line1.trim(), 200, true)?,
            line2: optional("shipping line2", raw.line2, 200)?,
            city: bounded_text("shipping city", raw.city.trim(), 100, true)?,
            region: optional("shipping region", raw.region, 100)?,
            postal_code: bounded_text("shipping postal code", raw.postal_code.trim(), 20, true)?,
            country,
            phone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> AddressInput {
        AddressInput {
            name: "Ada Lovelace".into(),
            line1: "12 rue de Rivoli".into(),
            city: "Paris".into(),
            postal_code: "75004".into(),
            country: "fr".into(),
            ..AddressInput::default()
        }
    }

    #[test]
    fn parses_and_normalises() {
        let address = Address::parse(AddressInput { line2: Some("  ".into()), ..raw() }).ok();
        assert_eq!(address.as_ref().map(|a| a.country.as_str()), Some("FR"));
        assert_eq!(address.and_then(|a| a.line2), None);
    }

    #[test]
    fn refuses_missing_and_malformed_fields() {
        for bad in [
            AddressInput { name: " ".into(), ..raw() },
            AddressInput { city: String::new(), ..raw() },
            AddressInput { country: "FRA".into(), ..raw() },
            AddressInput { postal_code: "1".repeat(21), ..raw() },
            AddressInput { phone: Some("call me".into()), ..raw() },
        ] {
            assert!(Address::parse(bad).is_err());
        }
    }
}
