//! Resource quantities as the API writes them (`4`, `500m`, `16Gi`, `1e3`), validated before a
//! node advertises them so a typo fails at start-up instead of producing a node nobody can use.

use crate::SimError;

/// A non-negative quantity: the text the user gave (sent unchanged, as the kubelet sends its
/// configured values) and its value in base units.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub text: String,
    pub value: f64,
}

impl std::str::FromStr for Quantity {
    type Err = SimError;

    fn from_str(text: &str) -> Result<Self, SimError> {
        parse(text)
    }
}

impl From<&Quantity> for k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    fn from(q: &Quantity) -> Self {
        Self(q.text.clone())
    }
}

/// Parse `text` with upstream's grammar: an unsigned decimal number followed by a binary-SI
/// (`Ki`..`Ei`), decimal-SI (`n`..`E`) or exponent (`e3`) suffix.
pub fn parse(text: &str) -> Result<Quantity, SimError> {
    let invalid = || SimError::InvalidQuantity(text.to_string());
    let body = text.strip_prefix('+').unwrap_or(text);
    let number_len = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(number_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(invalid());
    }
    let mantissa: f64 = number.parse().map_err(|_| invalid())?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent => {
            let digits = exponent
                .strip_prefix('e')
                .or_else(|| exponent.strip_prefix('E'))
                .ok_or_else(invalid)?;
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let power: i32 = digits.parse().map_err(|_| invalid())?;
            10f64.powi(power)
        }
    };
    Ok(Quantity {
        text: text.to_string(),
        value: mantissa * multiplier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> f64 {
        parse(text).unwrap().value
    }

    #[test]
    fn decimal_binary_and_exponent_suffixes() {
        assert_eq!(value("4"), 4.0);
        assert_eq!(value("500m"), 0.5);
        assert_eq!(value("1.5"), 1.5);
        assert_eq!(value("16Gi"), 16.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(value("100M"), 1e8);
        assert_eq!(value("1e3"), 1000.0);
        assert_eq!(value("2E-3"), 0.002);
        assert_eq!(value("+3k"), 3000.0);
        assert_eq!(value(".5"), 0.5);
    }

    #[test]
    fn keeps_the_text_as_given() {
        assert_eq!(parse("16Gi").unwrap().text, "16Gi");
    }

    #[test]
    fn rejects_malformed_and_negative() {
        for bad in ["", "Gi", "-1", "1.2.3", "16GB", "1e", "1e+", "4 cpu", "."] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
