//! Exact money: `rust_decimal::Decimal` with an ISO 4217 currency. Never a float.
//!
//! Arithmetic between two amounts checks the currencies; mixing them is a typed error, not a
//! silent conversion.

use crate::{ValidationError, ValidationKind};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An ISO 4217 alphabetic code: three ASCII capitals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(code: &str) -> Result<Self, ValidationError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(ValidationError::new(
                "currency",
                ValidationKind::malformed("an ISO 4217 code of three capital letters", code),
            ));
        }
        Ok(Self([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII capitals.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_string()
    }
}

/// An amount of money in one currency. Serialized as `{"amount": "12.34", "currency": "USD"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: Currency,
}

/// Two amounts in different currencies met in one sum.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("currency mismatch: {left} and {right}")]
pub struct CurrencyMismatch {
    pub left: Currency,
    pub right: Currency,
}

/// Money as written: at least two decimals ("0.00", "10.00", not "0" or "10"); never rounds
/// away precision ("12.345" stays).
pub fn at_least_cents(amount: Decimal) -> Decimal {
    let mut amount = amount;
    if amount.scale() < 2 {
        amount.rescale(2);
    }
    amount
}

impl Money {
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub fn usd(amount: Decimal) -> Self {
        Self::new(amount, Currency::USD)
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    pub fn checked_add(self, other: Money) -> Result<Money, CurrencyMismatch> {
        self.same_currency(&other)?;
        Ok(Money::new(self.amount + other.amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, CurrencyMismatch> {
        self.same_currency(&other)?;
        Ok(Money::new(self.amount - other.amount, self.currency))
    }

    pub fn negate(self) -> Money {
        Money::new(-self.amount, self.currency)
    }

    /// Validate a non-negative amount for `field`.
    pub fn non_negative(self, field: &str) -> Result<Money, ValidationError> {
        if self.is_negative() {
            return Err(ValidationError::new(field, ValidationKind::Negative { found: self.amount.to_string() }));
        }
        Ok(self)
    }

    /// Validate that `self` is in `expected` currency, naming `field` if not.
    pub fn in_currency(self, expected: Currency, field: &str) -> Result<Money, ValidationError> {
        if self.currency != expected {
            return Err(ValidationError::new(
                field,
                ValidationKind::CurrencyMismatch { expected: expected.to_string(), found: self.currency.to_string() },
            ));
        }
        Ok(self)
    }

    fn same_currency(&self, other: &Money) -> Result<(), CurrencyMismatch> {
        if self.currency != other.currency {
            return Err(CurrencyMismatch { left: self.currency, right: other.currency });
        }
        Ok(())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Sum amounts that must share `currency`.
pub fn sum<'a>(currency: Currency, items: impl IntoIterator<Item = &'a Money>) -> Result<Money, CurrencyMismatch> {
    items.into_iter().try_fold(Money::zero(currency), |acc, item| acc.checked_add(*item))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn currency_must_be_three_capitals() {
        assert!(Currency::parse("USD").is_ok());
        for bad in ["usd", "US", "USDD", "U$D", ""] {
            let error = Currency::parse(bad).unwrap_err();
            assert_eq!(error.field, "currency", "{bad}");
        }
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let eur = Currency::parse("EUR").unwrap();
        let error = Money::usd(dec!(1)).checked_add(Money::new(dec!(1), eur)).unwrap_err();
        assert_eq!(error.right, eur);
    }

    #[test]
    fn sums_are_exact() {
        let cents: Vec<Money> = (0..10).map(|_| Money::usd(dec!(0.1))).collect();
        assert_eq!(sum(Currency::USD, &cents).unwrap().amount, dec!(1.0));
    }

    #[test]
    fn json_keeps_money_as_decimal_strings() {
        let json = serde_json::to_string(&Money::usd(dec!(100.10))).unwrap();
        assert_eq!(json, r#"{"amount":"100.10","currency":"USD"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back.amount, dec!(100.10));
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1","currency":"usd"}"#).is_err());
    }
}
