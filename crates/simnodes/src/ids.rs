//! Stable identifiers for simulated machines and containers. They are derived from names so a
//! restarted simulator reports the same machine IDs; the `sim://` scheme keeps container and
//! image IDs from passing for a real runtime's.

/// 32 hex digits from FNV-1a over `parts` (two differently seeded passes).
pub fn hex_id(parts: &[&str]) -> String {
    format!("{:016x}{:016x}", fnv(parts, 0), fnv(parts, 1))
}

fn fnv(parts: &[&str], seed: u8) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(seed).chain(
        parts
            .iter()
            .flat_map(|part| part.bytes().chain(std::iter::once(0))),
    ) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// `sim://<64 hex>`: one container instance (a restart gets a new ID, as with a real runtime).
pub fn container_id(pod_uid: &str, container: &str, restart_count: i32) -> String {
    let restarts = restart_count.to_string();
    format!(
        "sim://{}{}",
        hex_id(&[pod_uid, container, &restarts]),
        hex_id(&[container, pod_uid, &restarts])
    )
}

pub fn image_id(image: &str) -> String {
    format!("sim://{image}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(hex_id(&["sim-1"]), hex_id(&["sim-1"]));
        assert_ne!(hex_id(&["sim-1"]), hex_id(&["sim-2"]));
        assert_ne!(hex_id(&["ab", "c"]), hex_id(&["a", "bc"]));
        assert_eq!(hex_id(&["x"]).len(), 32);
        let id = container_id("uid", "app", 0);
        assert!(id.starts_with("sim://") && id.len() == 6 + 64);
        assert_ne!(id, container_id("uid", "app", 1));
    }
}
