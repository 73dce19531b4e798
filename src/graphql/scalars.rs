//! Scalars and small value types shared by every domain.

use async_graphql::{InputValueError, InputValueResult, Object, Scalar, ScalarType, Value};

use crate::money;

/// A 64-bit signed integer. It is serialised as a JSON number and the API keeps its values
/// within ±(2^53 - 1), so JavaScript reads them exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Long(pub i64);

/// A 64-bit signed integer, kept within ±(2^53 - 1) so that JavaScript reads it exactly.
#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n.unsigned_abs() <= money::MAX_MINOR_UNITS.unsigned_abs() => Ok(Long(n)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An exact amount of money.
pub struct Money(pub money::Money);

impl Money {
    /// An amount read from the store, in the currency code stored beside it.
    ///
    /// # Errors
    /// `INTERNAL` when the stored code is not a supported currency.
    pub fn stored(minor_units: i64, code: &str) -> Result<Self, crate::error::AppError> {
        let currency = money::Currency::parse(code)
            .map_err(|_| crate::error::AppError::internal(anyhow::anyhow!("unknown stored currency {code:?}")))?;
        Ok(Self(money::Money::from_minor(minor_units, currency)))
    }
}

/// An exact amount of money in one currency. Never a float: use `amount` for display and
/// arithmetic with a decimal library, or `minorUnits` for integer arithmetic.
#[Object]
impl Money {
    /// The amount as a decimal string with the currency's decimal places, such as `"129.50"`.
    async fn amount(&self) -> String {
        self.0.amount()
    }

    /// The ISO 4217 currency code, such as `EUR`.
    async fn currency_code(&self) -> &'static str {
        self.0.currency().code()
    }

    /// The amount in the currency's minor unit (cents for EUR), such as `12950`.
    async fn minor_units(&self) -> Long {
        Long(self.0.minor_units())
    }
}
