//! Compact JWS with ES256 (ECDSA P-256 / SHA-256, signature as fixed-width r||s), on ring.
//! Hand-rolled because it is a few lines and keeps the build free of aws-lc-rs.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AuthError;

/// DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point: SEQUENCE {
/// AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING (65 bytes follow) }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An ES256 signing key with its derived key id.
pub struct Es256Key {
    key_pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

impl Es256Key {
    pub fn from_pkcs8(der: &[u8]) -> Result<Es256Key, AuthError> {
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| {
                AuthError::Key(format!(
                    "service-account key is not a P-256 PKCS#8 key: {e}"
                ))
            })?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key_pair.public_key().as_ref());
        // Upstream's key id: unpadded base64url of SHA-256 over the DER public key, so
        // verifiers that cache JWKS by kid see the same value a kube-apiserver would publish.
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(&spki));
        Ok(Es256Key { key_pair, rng, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public point's affine coordinates (x, y), 32 bytes each.
    pub fn coordinates(&self) -> (&[u8], &[u8]) {
        let point = self.key_pair.public_key().as_ref();
        // Uncompressed SEC1: 0x04 || x || y.
        (&point[1..33], &point[33..65])
    }

    /// Sign `payload` (JSON) into a compact JWS.
    pub fn sign(&self, payload: &serde_json::Value) -> Result<String, AuthError> {
        let header = serde_json::json!({"alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(payload)?)
        );
        let signature = self
            .key_pair
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| AuthError::Signing)?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// Check a compact JWS's signature and return its payload bytes.
    pub fn verify(&self, token: &str) -> Result<Vec<u8>, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::InvalidToken("not a compact JWS"));
        };
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| AuthError::InvalidToken("bad base64url"))
        };
        let parsed: Header = serde_json::from_slice(&decode(header)?)
            .map_err(|_| AuthError::InvalidToken("bad header"))?;
        // Pinning the algorithm rules out "alg: none" and algorithm-confusion tricks.
        if parsed.alg != "ES256" {
            return Err(AuthError::InvalidToken("unsupported algorithm"));
        }
        if parsed.kid.as_deref().is_some_and(|kid| kid != self.kid) {
            return Err(AuthError::InvalidToken("unknown key id"));
        }
        let signature = decode(signature)?;
        let signing_input = &token[..header.len() + 1 + payload.len()];
        UnparsedPublicKey::new(
            &ECDSA_P256_SHA256_FIXED,
            self.key_pair.public_key().as_ref(),
        )
        .verify(signing_input.as_bytes(), &signature)
        .map_err(|_| AuthError::InvalidToken("bad signature"))?;
        decode(payload)
    }
}
