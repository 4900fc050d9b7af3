//! Resource quantities (upstream's resource.Quantity) as exact nano-unit integers, enough to
//! add requests up and print the sums the way the API does ("500m", "384Mi", "2").

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const NANO: i128 = 1_000_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Amount {
    nanos: i128,
    binary: bool,
}

impl Amount {
    pub(crate) fn units(count: i64) -> Self {
        Amount {
            nanos: i128::from(count) * NANO,
            binary: false,
        }
    }

    pub(crate) fn parse(quantity: &Quantity) -> Option<Self> {
        let text = quantity.0.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(split);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let negative = whole.starts_with('-');
        let whole: i128 = whole.trim_start_matches(['-', '+']).parse().unwrap_or(0);
        let mut fraction_nanos: i128 = 0;
        for (i, digit) in fraction.chars().take(9).enumerate() {
            fraction_nanos += i128::from(digit.to_digit(10)?) * 10i128.pow(8 - i as u32);
        }
        let base = whole * NANO + fraction_nanos;
        let (nanos, binary) = match suffix {
            "Ki" => (base << 10, true),
            "Mi" => (base << 20, true),
            "Gi" => (base << 30, true),
            "Ti" => (base << 40, true),
            "Pi" => (base << 50, true),
            "Ei" => (base << 60, true),
            "n" => (base / 1_000_000_000, false),
            "u" => (base / 1_000_000, false),
            "m" => (base / 1_000, false),
            "" => (base, false),
            "k" => (base * 1_000, false),
            "M" => (base * 1_000_000, false),
            "G" => (base * 1_000_000_000, false),
            "T" => (base * 1_000_000_000_000, false),
            "P" => (base * 1_000_000_000_000_000, false),
            "E" => (base * 1_000_000_000_000_000_000, false),
            exponent => {
                let power: u32 = exponent.strip_prefix(['e', 'E'])?.parse().ok()?;
                (base * 10i128.checked_pow(power)?, false)
            }
        };
        Some(Amount {
            nanos: if negative { -nanos } else { nanos },
            binary,
        })
    }

    /// The sum, in the format of the first non-zero term (as Quantity.Add keeps its own).
    pub(crate) fn add(self, other: Amount) -> Amount {
        Amount {
            nanos: self.nanos + other.nanos,
            binary: if self.nanos == 0 {
                other.binary
            } else {
                self.binary
            },
        }
    }

    pub(crate) fn max(self, other: Amount) -> Amount {
        if other.nanos > self.nanos {
            other
        } else {
            self
        }
    }

    pub(crate) fn to_quantity(self) -> Quantity {
        Quantity(self.to_string())
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nanos = self.nanos;
        if nanos == 0 {
            return write!(f, "0");
        }
        if nanos % NANO != 0 {
            return match () {
                _ if nanos % 1_000_000 == 0 => write!(f, "{}m", nanos / 1_000_000),
                _ if nanos % 1_000 == 0 => write!(f, "{}u", nanos / 1_000),
                _ => write!(f, "{nanos}n"),
            };
        }
        let value = nanos / NANO;
        if self.binary {
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let mut scaled = value;
            let mut index = 0;
            while index + 1 < suffixes.len() && scaled % 1024 == 0 && scaled != 0 {
                scaled /= 1024;
                index += 1;
            }
            return write!(f, "{scaled}{}", suffixes[index]);
        }
        let suffixes = ["", "k", "M", "G", "T", "P", "E"];
        let mut scaled = value;
        let mut index = 0;
        while index + 1 < suffixes.len() && scaled % 1000 == 0 {
            scaled /= 1000;
            index += 1;
        }
        write!(f, "{scaled}{}", suffixes[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Amount {
        Amount::parse(&Quantity(s.into())).unwrap()
    }

    #[test]
    fn sums_print_like_the_api() {
        assert_eq!(q("100m").add(q("400m")).to_string(), "500m");
        assert_eq!(q("500m").add(q("1500m")).to_string(), "2");
        assert_eq!(q("128Mi").add(q("256Mi")).to_string(), "384Mi");
        assert_eq!(q("1Gi").to_string(), "1Gi");
        assert_eq!(q("1.5").to_string(), "1500m");
        assert_eq!(q("2000").to_string(), "2k");
        assert_eq!(q("1e3").to_string(), "1k");
        assert_eq!(Amount::default().add(q("64Mi")).to_string(), "64Mi");
        assert_eq!(Amount::units(3).to_string(), "3");
        assert_eq!(Amount::default().to_string(), "0");
    }
}
