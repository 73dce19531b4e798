//! Who is calling, and what they may do.

use entity::Role;
use uuid::Uuid;

/// A named permission. Roles grant sets of them; guards ask for them. Each is named
/// `area:action[:scope]`, as documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::EnumIter)]
pub enum Permission {
    /// Create and edit the products of one's own vendor.
    #[strum(serialize = "catalog:write:own")]
    CatalogWriteOwn,
    /// Create and edit any product, vendor and category.
    #[strum(serialize = "catalog:write")]
    CatalogWrite,
    /// Read private product fields (cost, internal notes) and unlisted products of any vendor.
    #[strum(serialize = "catalog:read:private")]
    CatalogReadPrivate,
    /// Read any account's private fields (email).
    #[strum(serialize = "users:read")]
    UsersRead,
    /// Change roles.
    #[strum(serialize = "users:manage")]
    UsersManage,
    /// Issue and revoke partner API keys.
    #[strum(serialize = "keys:manage")]
    KeysManage,
    /// Read the security audit log.
    #[strum(serialize = "audit:read")]
    AuditRead,
    /// Read any order and any vendor's fulfilments.
    #[strum(serialize = "orders:read:any")]
    OrdersReadAny,
    /// Cancel paid orders, refund, complete, and ship any vendor's part.
    #[strum(serialize = "orders:manage")]
    OrdersManage,
    /// Read analytics.
    #[strum(serialize = "analytics:read")]
    AnalyticsRead,
}

impl Permission {
    /// The permission's name, as documented.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// What a partner API key may reach, granted when the key is issued.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, strum::IntoStaticStr, strum::EnumString, strum::EnumIter,
)]
pub enum Scope {
    /// The public catalog: products, categories, vendors, search, public stock changes.
    #[strum(serialize = "catalog:read")]
    CatalogRead,
    /// Every order and fulfilment, and their events.
    #[strum(serialize = "orders:read")]
    OrdersRead,
}

impl Scope {
    /// The scope's name, as documented.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The permissions the scope grants its key.
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::CatalogRead => &[],
            Self::OrdersRead => &[Permission::OrdersReadAny],
        }
    }
}

/// The permissions each role grants.
pub fn permissions_of(role: Role) -> &'static [Permission] {
    use Permission::*;
    match role {
        Role::Customer => &[],
        Role::Vendor => &[CatalogWriteOwn],
        Role::Staff => &[CatalogWrite, CatalogReadPrivate, UsersRead, OrdersReadAny, OrdersManage, AnalyticsRead],
        Role::Admin => &[
            CatalogWrite,
            CatalogReadPrivate,
            UsersRead,
            UsersManage,
            KeysManage,
            AuditRead,
            OrdersReadAny,
            OrdersManage,
            AnalyticsRead,
        ],
    }
}

/// The caller of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Viewer {
    /// Nobody signed in.
    #[default]
    Anonymous,
    /// A signed-in account.
    User {
        /// The account.
        id: Uuid,
        /// Its role when the access token was issued.
        role: Role,
        /// The vendor, for a VENDOR.
        vendor_id: Option<Uuid>,
    },
    /// A partner authenticated by an API key (the PARTNER role).
    Partner {
        /// The key.
        key_id: Uuid,
        /// The partner holding it.
        partner_id: Uuid,
        /// The partner's active manifest version when the key was checked: the only
        /// operations the key runs. `None` runs nothing.
        manifest: Option<Uuid>,
        /// What the key was granted.
        scopes: Vec<Scope>,
    },
}

impl Viewer {
    /// Whether the viewer holds `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        match self {
            Self::User { role, .. } => permissions_of(*role).contains(&permission),
            Self::Partner { scopes, .. } => scopes.iter().any(|scope| scope.permissions().contains(&permission)),
            Self::Anonymous => false,
        }
    }

    /// The signed-in account's id, if any.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// The vendor a VENDOR works for.
    pub fn vendor_id(&self) -> Option<Uuid> {
        match self {
            Self::User { role: Role::Vendor, vendor_id, .. } => *vendor_id,
            _ => None,
        }
    }

    /// The signed-in account acting, for use cases that record who did something.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` when nobody is signed in (a guard should have refused already).
    pub fn actor(&self) -> crate::error::AppResult<Uuid> {
        self.user_id()
            .ok_or_else(|| crate::error::AppError::new(crate::error::ErrorCode::Unauthenticated, "sign in to do this"))
    }

    /// Whether anyone is identified.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }
}

/// Where the request came from, for the audit log and throttling.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    /// The client's IP address, as seen by the server.
    pub ip: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_permission_has_its_own_documented_name() {
        let names: Vec<&str> = Permission::iter().map(Permission::name).collect();
        let distinct: std::collections::HashSet<&&str> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        let docs = include_str!("../../docs/SECURITY.md");
        for name in names {
            let parts = name.split(':').count();
            assert!((2..=3).contains(&parts) && name.chars().all(|c| c.is_ascii_lowercase() || c == ':'), "{name}");
            assert!(docs.contains(&format!("`{name}`")), "{name} is documented in SECURITY.md");
        }
    }
}
