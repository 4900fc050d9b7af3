//! Resource quantities (shared by the API server's admission, the scheduler, the controllers
//! and the simulated nodes) ("100m", "1.5Gi", "2e3") as exact integers, rounded up as upstream's
//! `Quantity.Value()` and `MilliValue()` do. Decimal arithmetic avoids float rounding ("0.1" cpu
//! must be exactly 100 millicores).

/// The quantity scaled by `10^scale` (3 for millis, 0 for whole units), rounded up; None when
/// the text is not a quantity.
pub fn parse_scaled(text: &str, scale: i32) -> Option<i64> {
    let text = text.trim();
    let (sign, text) = match text.as_bytes().first()? {
        b'-' => (-1i128, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = digits.parse().ok()?;
    let mut exp10 = -(frac_part.len() as i32);
    let mut mult2: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => mult2 = 10,
        "Mi" => mult2 = 20,
        "Gi" => mult2 = 30,
        "Ti" => mult2 = 40,
        "Pi" => mult2 = 50,
        "Ei" => mult2 = 60,
        other if other.starts_with(['e', 'E']) => exp10 += other[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    let value = mantissa.checked_mul(1i128.checked_shl(mult2)?)?;
    let exp = exp10 + scale;
    let scaled = if exp >= 0 {
        value.checked_mul(10i128.checked_pow(exp as u32)?)?
    } else {
        let divisor = 10i128.checked_pow((-exp) as u32).unwrap_or(i128::MAX);
        (value + divisor - 1) / divisor
    };
    i64::try_from(sign * scaled).ok()
}

/// Millis of a quantity (cpu), 0 when unparsable (the API server validated it already).
pub fn milli(text: &str) -> i64 {
    parse_scaled(text, 3).unwrap_or(0)
}

/// Whole units of a quantity (bytes, counts).
pub fn value(text: &str) -> i64 {
    parse_scaled(text, 0).unwrap_or(0)
}

/// The canonical text of a number of millis (cpu-like resources): "2", "500m".
pub fn format_milli(millis: i64) -> String {
    if millis % 1000 == 0 {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// The canonical text of a whole quantity (bytes, counts), with the largest exact binary
/// suffix as upstream prints memory: "1Gi", "512Mi", "1000".
pub fn format_value(value: i64) -> String {
    for (suffix, shift) in [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ] {
        let unit = 1i64 << shift;
        if value != 0 && value % unit == 0 {
            return format!("{}{suffix}", value / unit);
        }
    }
    value.to_string()
}

/// Whether a resource is measured in millis (cpu) rather than whole units.
pub fn is_milli_resource(name: &str) -> bool {
    name == "cpu" || name.ends_with(".cpu")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_suffixes() {
        assert_eq!(milli("100m"), 100);
        assert_eq!(milli("0.1"), 100);
        assert_eq!(milli("1.5"), 1500);
        assert_eq!(milli("2"), 2000);
        assert_eq!(value("1Ki"), 1024);
        assert_eq!(value("1.5Gi"), 1_610_612_736);
        assert_eq!(value("500Mi"), 524_288_000);
        assert_eq!(value("1k"), 1000);
        assert_eq!(value("2e3"), 2000);
        assert_eq!(value("110"), 110);
    }

    #[test]
    fn rounds_up_like_upstream() {
        assert_eq!(value("100m"), 1);
        assert_eq!(milli("1n"), 1);
        assert_eq!(value("1.0001"), 2);
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_milli(2000), "2");
        assert_eq!(format_milli(1500), "1500m");
        assert_eq!(format_value(1 << 30), "1Gi");
        assert_eq!(format_value(524_288_000), "500Mi");
        assert_eq!(format_value(1000), "1000");
        assert_eq!(format_value(0), "0");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_scaled("abc", 0), None);
        assert_eq!(parse_scaled("1Xi", 0), None);
        assert_eq!(parse_scaled("", 0), None);
    }
}
