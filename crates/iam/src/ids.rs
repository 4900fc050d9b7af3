//! Random identifiers and secrets, from the operating system's CSPRNG (ring).

use ring::rand::{SecureRandom, SystemRandom};

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf).expect("the system random source works");
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % alphabet.len());
        for byte in buf {
            if (byte as usize) < limit && out.len() < len {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// An IAM unique id or access key id: a four-letter prefix (`AIDA`, `AROA`, `ANPA`, `AKIA`,
/// `ASIA`) and base32 characters, 20 in all for keys and 21 for entity ids, as AWS issues them.
pub fn unique_id(prefix: &str, len: usize) -> String {
    format!("{prefix}{}", random_from(ID_ALPHABET, len - prefix.len()))
}

pub fn access_key_id(temporary: bool) -> String {
    unique_id(if temporary { "ASIA" } else { "AKIA" }, 20)
}

pub fn secret_access_key() -> String {
    random_from(SECRET_ALPHABET, 40)
}

pub fn session_token() -> String {
    format!("IQoJb3JpZ2luX2Vj{}", random_from(SECRET_ALPHABET, 340))
}

/// A 12-digit account id that does not start with 0.
pub fn account_id() -> String {
    let digits = random_from(b"0123456789", 12);
    let first = random_from(b"123456789", 1);
    format!("{first}{}", &digits[1..])
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// `bytes` random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random source works");
    hex(&buf)
}

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_have_aws_shapes() {
        let key = access_key_id(false);
        assert_eq!(key.len(), 20);
        assert!(key.starts_with("AKIA"));
        assert!(key[4..].bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_eq!(secret_access_key().len(), 40);
        let account = account_id();
        assert_eq!(account.len(), 12);
        assert!(account.bytes().all(|b| b.is_ascii_digit()) && !account.starts_with('0'));
        assert_ne!(access_key_id(true), access_key_id(true));
    }
}
