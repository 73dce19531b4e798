//! The `payOrder` mutation.

use async_graphql::{Context, ID, Object, Result};

use super::Payments;
use super::service;
use super::types::Payment;
use crate::cart::CartToken;
use crate::db::Db;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::Permission;
use crate::identity::guards::viewer;
use crate::order::checkout::parse_idempotency_key;
use crate::order::service::{is_buyer, visible_order};

/// Payment mutations.
#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Pays an order waiting for payment, with the payment method token from the provider's
    /// client SDK (the built-in test provider takes `test_card`, `test_async`, `test_declined`,
    /// `test_unavailable` and `test_timeout`). On success the order is PAID, or stays
    /// PENDING_PAYMENT with a PENDING payment until the provider's webhook confirms it. A
    /// declined, failed or timed-out payment is `PAYMENT_FAILED`; it is recorded, and the order
    /// can be paid again with a new key. The same `idempotencyKey` returns the same payment.
    /// Only the buyer pays (staff who can read the order get `FORBIDDEN`); while a payment is
    /// PENDING another attempt is `CONFLICT`.
    async fn pay_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        payment_method: String,
        idempotency_key: String,
    ) -> Result<Payment> {
        let order_id = GlobalId::parse_as(&order_id, NodeType::Order)?;
        let key = parse_idempotency_key(&idempotency_key)?;
        let db = ctx.state::<Db>()?;
        let token = CartToken::of(ctx);
        let order = visible_order(db.conn(), order_id, viewer(ctx), token).await?;
        // Only staff see orders they did not place; for anyone else, seeing it proves buying it.
        if viewer(ctx).can(Permission::OrdersReadAny) && !is_buyer(db.conn(), &order, viewer(ctx), token).await? {
            return Err(AppError::forbidden("only the buyer pays for an order").into());
        }
        Ok(Payment(service::pay_order(db, ctx.state::<Payments>()?, &order, &payment_method, &key).await?))
    }
}
