//! How many unpaid orders, each holding stock, one buyer may have at a time.

use entity::{OrderStatus, order};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter};

use crate::config::OrderSettings;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::identity::viewer::ClientInfo;

/// Refuses a checkout that would give one visitor (cart), account or address more unpaid orders,
/// each holding stock, than the settings allow. Runs under the checkout's write lock (SQLite) or,
/// on PostgreSQL, after taking transaction-scoped advisory locks on the account and the address,
/// so concurrent checkouts of one buyer are counted one after the other.
pub(super) async fn check(
    txn: &sea_orm::DatabaseTransaction,
    settings: &OrderSettings,
    cart: &entity::cart::Model,
    client: &ClientInfo,
) -> AppResult<()> {
    use sea_orm::PaginatorTrait;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        let keys = [cart.user_id.map(|u| u.to_string()), client.ip.clone()];
        for key in keys.into_iter().flatten() {
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                [format!("checkout:{key}").into()],
            ))
            .await?;
        }
    }
    let unpaid = || order::Entity::find().filter(order::Column::Status.eq(OrderStatus::PendingPayment));
    let too_many = || AppError::new(ErrorCode::RateLimited, "too many unpaid orders; pay for or cancel one first");
    let by_visitor = match cart.user_id {
        Some(user) => unpaid().filter(order::Column::UserId.eq(user)).count(txn).await?,
        None => unpaid().filter(order::Column::CartId.eq(cart.id)).count(txn).await?,
    };
    if by_visitor >= settings.max_unpaid_orders_per_visitor {
        return Err(too_many());
    }
    if let Some(ip) = &client.ip {
        let by_address = unpaid().filter(order::Column::PlacedFrom.eq(ip.as_str())).count(txn).await?;
        if by_address >= settings.max_unpaid_orders_per_ip {
            return Err(too_many());
        }
    }
    Ok(())
}
