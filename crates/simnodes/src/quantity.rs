//! Resource quantities given on the command line (`4`, `500m`, `16Gi`, `1e3`), validated with the
//! shared parser before a node advertises them so a typo fails at start-up instead of producing a
//! node nobody can use.

use keelson_api_types::quantity::parse_scaled;

use crate::SimError;

/// A non-negative quantity, kept as the text the user gave: it is sent unchanged, as the kubelet
/// sends its configured values.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantity {
    pub text: String,
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

/// Parse `text` with upstream's grammar (see `keelson_api_types::quantity`), rejecting negative
/// amounts, which no node can offer, and surrounding blanks, which the API would refuse.
pub fn parse(text: &str) -> Result<Quantity, SimError> {
    let unsigned = text.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+');
    if unsigned && text.trim_end() == text && parse_scaled(text, 0).is_some() {
        Ok(Quantity {
            text: text.to_string(),
        })
    } else {
        Err(SimError::InvalidQuantity(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_upstream_suffixes() {
        for good in [
            "4", "500m", "1.5", "16Gi", "100M", "1e3", "2E-3", "+3k", ".5",
        ] {
            assert!(parse(good).is_ok(), "{good:?} should be accepted");
        }
    }

    #[test]
    fn keeps_the_text_as_given() {
        assert_eq!(parse("16Gi").unwrap().text, "16Gi");
    }

    #[test]
    fn rejects_malformed_and_negative() {
        for bad in [
            "", "Gi", "-1", "-1m", " 4", "4 ", "1.2.3", "16GB", "1e", "1e+", "4 cpu", ".",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
