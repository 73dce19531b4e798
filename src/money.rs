//! Money as integer minor units of an ISO 4217 currency: never a float.
//!
//! [`Currency`] knows each supported code's number of decimal places, so amounts convert
//! exactly between minor units (`12950`) and decimal strings (`"129.50"`).

use std::fmt;

use crate::error::{AppError, AppResult};

/// Supported ISO 4217 currencies and their minor-unit exponents.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("RON", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

/// Largest amount accepted, in minor units: 2^53 - 1, so every amount is exact in JavaScript.
pub const MAX_MINOR_UNITS: i64 = (1 << 53) - 1;

/// A supported ISO 4217 currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// The euro, the demo catalog's currency.
    pub const EUR: Self = Self { code: "EUR", exponent: 2 };

    /// Parses an ISO 4217 code such as `EUR`.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` when the code is not a supported currency.
    pub fn parse(code: &str) -> AppResult<Self> {
        CURRENCIES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|&(code, exponent)| Self { code, exponent })
            .ok_or_else(|| AppError::bad_input(format!("`{code}` is not a supported ISO 4217 currency code")))
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Number of decimal places of the minor unit.
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// The refusal of an amount past [`MAX_MINOR_UNITS`].
fn too_large() -> AppError {
    AppError::bad_input(format!("the amount is too large: at most {MAX_MINOR_UNITS} minor units"))
}

/// `unit_minor × quantity`, checked: the one way line totals are computed.
///
/// # Errors
/// `BAD_USER_INPUT` when the result overflows or passes [`MAX_MINOR_UNITS`].
pub fn times(unit_minor: i64, quantity: i32) -> AppResult<i64> {
    unit_minor.checked_mul(i64::from(quantity)).filter(|t| t.abs() <= MAX_MINOR_UNITS).ok_or_else(too_large)
}

/// `a + b` in minor units, checked: the one way totals are summed.
///
/// # Errors
/// `BAD_USER_INPUT` when the result overflows or passes [`MAX_MINOR_UNITS`].
pub fn plus(a: i64, b: i64) -> AppResult<i64> {
    a.checked_add(b).filter(|t| t.abs() <= MAX_MINOR_UNITS).ok_or_else(too_large)
}

/// An exact amount of one currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    minor_units: i64,
    currency: Currency,
}

impl Money {
    /// Money from minor units.
    pub fn from_minor(minor_units: i64, currency: Currency) -> Self {
        Self { minor_units, currency }
    }

    /// Parses a non-negative decimal amount such as `129.5` or `129.50` into minor units.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for anything that is not a plain decimal, has more decimal places than
    /// the currency, is negative, or exceeds [`MAX_MINOR_UNITS`].
    pub fn parse_amount(amount: &str, currency: Currency) -> AppResult<Self> {
        let invalid = || AppError::bad_input(format!("`{amount}` is not a valid {currency} amount"));
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || (amount.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let exponent = usize::from(currency.exponent);
        if fraction.len() > exponent {
            return Err(AppError::bad_input(format!(
                "`{amount}` has more than {exponent} decimal places, the precision of {currency}"
            )));
        }
        let padded = format!("{whole}{fraction:0<exponent$}");
        let minor_units: i64 = padded.parse().map_err(|_| invalid())?;
        if minor_units > MAX_MINOR_UNITS {
            return Err(invalid());
        }
        Ok(Self { minor_units, currency })
    }

    /// The amount in minor units.
    pub fn minor_units(self) -> i64 {
        self.minor_units
    }

    /// The currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// The amount as a decimal string with exactly the currency's decimal places (`"129.50"`).
    pub fn amount(self) -> String {
        let exponent = u32::from(self.currency.exponent);
        let sign = if self.minor_units < 0 { "-" } else { "" };
        let abs = self.minor_units.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10u64.pow(exponent);
        format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exponent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn formats_minor_units_with_the_currency_precision() {
        assert_eq!(Money::from_minor(12950, eur()).amount(), "129.50");
        assert_eq!(Money::from_minor(5, eur()).amount(), "0.05");
        assert_eq!(Money::from_minor(-5, eur()).amount(), "-0.05");
        let jpy = Currency::parse("JPY").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(Money::from_minor(1200, jpy).amount(), "1200");
        let kwd = Currency::parse("KWD").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(Money::from_minor(1234, kwd).amount(), "1.234");
    }

    #[test]
    fn parses_decimal_amounts_exactly() {
        let parse = |s: &str| Money::parse_amount(s, eur()).map(Money::minor_units);
        assert_eq!(parse("129.5").ok(), Some(12950));
        assert_eq!(parse("129.50").ok(), Some(12950));
        assert_eq!(parse("129").ok(), Some(12900));
        assert_eq!(parse("0.01").ok(), Some(1));
        assert_eq!(parse("90071992547409.91").ok(), Some(MAX_MINOR_UNITS));
        assert!(parse("90071992547409.92").is_err(), "above 2^53 - 1 minor units");
    }

    #[test]
    fn rejects_what_is_not_a_plain_amount() {
        for bad in ["", "-1", "1.234", "1e3", "1,50", " 1", "1.", ".5", "NaN", "99999999999999999999"] {
            let error = Money::parse_amount(bad, eur()).err();
            assert_eq!(error.map(|e| e.code()), Some(crate::ErrorCode::BadUserInput), "{bad:?}");
        }
    }

    #[test]
    fn arithmetic_is_checked_against_the_largest_amount() {
        assert_eq!(times(2_500, 3).ok(), Some(7_500));
        assert_eq!(plus(7_500, 1).ok(), Some(7_501));
        assert_eq!(times(MAX_MINOR_UNITS, 1).ok(), Some(MAX_MINOR_UNITS));
        for error in [times(MAX_MINOR_UNITS, 2), times(i64::MAX, 99), plus(MAX_MINOR_UNITS, 1), plus(i64::MAX, 1)] {
            assert_eq!(error.err().map(|e| e.code()), Some(crate::ErrorCode::BadUserInput));
        }
    }

    #[test]
    fn knows_only_real_currencies() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("XXX").is_err());
    }
}
