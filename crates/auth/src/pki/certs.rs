//! Generating and checking the cluster's certificates with rcgen and x509-parser.

use std::collections::BTreeSet;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::AuthError;

const CA_VALIDITY: Duration = Duration::days(3650);
/// Leaf certificates last a year, like kubeadm's; they are reissued when close to expiry.
const LEAF_VALIDITY: Duration = Duration::days(365);
/// Reissue a leaf this long before it expires so a long-running server never serves an expired one.
const RENEW_BEFORE: Duration = Duration::days(30);
/// Backdate certificates a little so clients with a slightly slow clock accept them.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The names every serving certificate carries, whatever the configuration adds: the in-cluster
/// service names clients use and the loopback addresses.
pub const DEFAULT_SANS: &[&str] = &[
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "127.0.0.1",
];

/// A freshly generated key and the certificate for it, both PEM.
pub struct Generated {
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn generate_key() -> Result<KeyPair, AuthError> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // DER INTEGERs are signed and must be minimal: clear the sign bit and keep the first byte
    // non-zero so the serial is always positive and 16 bytes long.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn base_params(common_name: &str, organizations: &[&str], validity: Duration) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for org in organizations {
        dn.push(DnType::OrganizationName, *org);
    }
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + validity;
    params.serial_number = Some(random_serial());
    params
}

/// A self-signed CA that may sign any leaf.
pub fn generate_ca(common_name: &str) -> Result<Generated, AuthError> {
    let key = generate_key()?;
    let mut params = base_params(common_name, &[], CA_VALIDITY);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key)?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The CA loaded back from its PEM files, able to sign leaves.
pub struct CaSigner {
    issuer: Issuer<'static, KeyPair>,
}

impl CaSigner {
    pub fn new(ca_cert_pem: &str, ca_key_pem: &str) -> Result<CaSigner, AuthError> {
        let key = KeyPair::from_pem(ca_key_pem)?;
        Ok(CaSigner {
            issuer: Issuer::from_ca_cert_pem(ca_cert_pem, key)?,
        })
    }

    /// The API server's serving certificate for `sans` (IP literals become IP SANs).
    pub fn serving_cert(&self, sans: &BTreeSet<San>) -> Result<Generated, AuthError> {
        let mut params = base_params("kube-apiserver", &[], LEAF_VALIDITY);
        params.subject_alt_names = sans
            .iter()
            .map(|san| match san {
                San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
                San::Dns(name) => Ok(SanType::DnsName(name.clone().try_into()?)),
            })
            .collect::<Result<_, rcgen::Error>>()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate: CN is the user name and each O a group, as upstream's x509
    /// authenticator reads them.
    pub fn client_cert(
        &self,
        common_name: &str,
        organizations: &[&str],
    ) -> Result<Generated, AuthError> {
        // rcgen's DistinguishedName holds one value per attribute type, so a second O would
        // silently replace the first; refuse rather than drop a group.
        if organizations.len() > 1 {
            return Err(AuthError::Certificate(
                "a client certificate can carry at most one group".into(),
            ));
        }
        let mut params = base_params(common_name, organizations, LEAF_VALIDITY);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> Result<Generated, AuthError> {
        params.use_authority_key_identifier_extension = true;
        let key = generate_key()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Generated {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// One subject alternative name, normalised so sets of them compare reliably.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum San {
    Ip(IpAddr),
    Dns(String),
}

impl San {
    pub fn parse(entry: &str) -> Option<San> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        // Accept bracketed IPv6 as written in URLs.
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        Some(match bare.parse::<IpAddr>() {
            Ok(ip) => San::Ip(ip),
            Err(_) => San::Dns(entry.to_ascii_lowercase()),
        })
    }
}

/// The SAN set the serving certificate must carry for the configured `sans`.
pub fn desired_sans(sans: &[String]) -> BTreeSet<San> {
    sans.iter()
        .map(String::as_str)
        .chain(DEFAULT_SANS.iter().copied())
        .filter_map(San::parse)
        .collect()
}

/// DER of the first certificate in `pem`.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, AuthError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| AuthError::Pem(e.to_string()))?;
    Ok(parsed.contents)
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, AuthError> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|e| AuthError::Certificate(e.to_string()))
}

/// Whether the leaf `der` was signed by the CA `ca_der` and stays valid past the renewal margin.
/// A leaf that fails this is reissued rather than served.
pub fn leaf_is_current(der: &[u8], ca_der: &[u8]) -> Result<bool, AuthError> {
    let leaf = parse(der)?;
    let ca = parse(ca_der)?;
    if leaf.issuer() != ca.subject() || leaf.verify_signature(Some(ca.public_key())).is_err() {
        return Ok(false);
    }
    let renew_at = OffsetDateTime::now_utc() + RENEW_BEFORE;
    Ok(leaf.validity().not_after.to_datetime() > renew_at)
}

/// The SANs a certificate carries.
pub fn cert_sans(der: &[u8]) -> Result<BTreeSet<San>, AuthError> {
    let cert = parse(der)?;
    let mut sans = BTreeSet::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(dns) => {
                    sans.insert(San::Dns(dns.to_ascii_lowercase()));
                }
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                        _ => None,
                    };
                    sans.extend(ip.map(San::Ip));
                }
                _ => {}
            }
        }
    }
    Ok(sans)
}

/// Whether a CA certificate is still usable (not expired).
pub fn ca_is_current(ca_der: &[u8]) -> Result<bool, AuthError> {
    let ca = parse(ca_der)?;
    Ok(ca.validity().not_after.to_datetime() > OffsetDateTime::now_utc())
}
