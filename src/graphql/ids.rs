//! Opaque global IDs for the Relay `Node` interface.
//!
//! An ID is the URL-safe base64 of `Type:uuid`. Clients must treat it as opaque; the server
//! parses it once at the edge and hands a typed UUID inward.

use async_graphql::ID;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The kinds of object that have a global ID; the GraphQL type name is the variant's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
pub enum NodeType {
    /// A product.
    Product,
    /// A vendor.
    Vendor,
    /// A category.
    Category,
    /// An account.
    User,
    /// A partner API key.
    ApiKey,
    /// A partner.
    Partner,
    /// A shopping cart.
    Cart,
    /// An order.
    Order,
    /// One vendor's part of an order.
    Fulfilment,
    /// A payment attempt.
    Payment,
    /// An image of a product.
    ProductImage,
    /// An image upload on its way to a product.
    Upload,
}

impl NodeType {
    /// The GraphQL type name.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A parsed global ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalId {
    /// What it identifies.
    pub node_type: NodeType,
    /// The row key.
    pub id: Uuid,
}

impl GlobalId {
    /// Encodes the opaque ID of a row.
    pub fn encode(node_type: NodeType, id: Uuid) -> ID {
        ID(URL_SAFE_NO_PAD.encode(format!("{}:{}", node_type.name(), id.as_hyphenated())))
    }

    /// Parses any global ID.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the ID was not issued by this API.
    pub fn parse(id: &str) -> AppResult<Self> {
        let malformed = || AppError::bad_input(format!("`{}` is not a valid ID", truncate(id)));
        if id.len() > 128 {
            return Err(malformed());
        }
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| malformed())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| malformed())?;
        let (name, uuid) = text.split_once(':').ok_or_else(malformed)?;
        let node_type =
            <NodeType as strum::IntoEnumIterator>::iter().find(|t| t.name() == name).ok_or_else(malformed)?;
        let id = Uuid::try_parse(uuid).map_err(|_| malformed())?;
        Ok(Self { node_type, id })
    }

    /// Parses an ID that must identify a `expected`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the ID is malformed or names another type.
    pub fn parse_as(id: &str, expected: NodeType) -> AppResult<Uuid> {
        let parsed = Self::parse(id)?;
        if parsed.node_type != expected {
            return Err(AppError::bad_input(format!(
                "`{}` is the ID of a {}, not of a {}",
                truncate(id),
                parsed.node_type.name(),
                expected.name()
            )));
        }
        Ok(parsed.id)
    }
}

/// Shortens user input before echoing it back in an error.
fn truncate(input: &str) -> String {
    const MAX: usize = 64;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        format!("{}…", input.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let id = Uuid::now_v7();
        let encoded = GlobalId::encode(NodeType::Vendor, id);
        assert_eq!(GlobalId::parse(&encoded).ok(), Some(GlobalId { node_type: NodeType::Vendor, id }));
        assert_eq!(GlobalId::parse_as(&encoded, NodeType::Vendor).ok(), Some(id));
    }

    #[test]
    fn refuses_foreign_and_mistyped_ids() {
        let vendor = GlobalId::encode(NodeType::Vendor, Uuid::now_v7());
        assert!(GlobalId::parse_as(&vendor, NodeType::Product).is_err());
        for bad in [
            "",
            "42",
            "not base64!",
            &URL_SAFE_NO_PAD.encode("Order:123"),
            &URL_SAFE_NO_PAD.encode("Basket:0195"),
            &URL_SAFE_NO_PAD.encode("Product:xyz"),
        ] {
            assert!(GlobalId::parse(bad).is_err(), "{bad}");
        }
    }
}
