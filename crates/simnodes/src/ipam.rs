//! Addresses of simulated nodes and pods, from ranges no real network hands out by accident.
//!
//! Node InternalIPs come from 198.18.0.0/15 (RFC 2544, reserved for benchmarking). Pods get
//! addresses from the node's `spec.podCIDR` when a controller assigned one, otherwise from a
//! /24 per node index carved out of 100.64.0.0/10.

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Node indexes stay below this: 100.64.0.0/10 holds 16,384 /24s.
pub const MAX_NODES: u64 = 1 << 14;

const NODE_RANGE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
const POD_RANGE: u32 = u32::from_be_bytes([100, 64, 0, 0]);
/// Addresses tracked per node; larger pod CIDRs are only used up to this many.
const MAX_POOL: u32 = 1 << 16;

pub fn node_internal_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(NODE_RANGE + 1 + index)
}

pub fn default_pod_cidr(index: u32) -> Cidr {
    Cidr {
        network: POD_RANGE + (index << 8),
        prefix: 24,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

impl Cidr {
    /// An IPv4 CIDR such as `10.244.3.0/24`; `None` for IPv6 or malformed text.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = text.split_once('/')?;
        let addr: Ipv4Addr = addr.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        if prefix > 30 {
            return None;
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        Some(Cidr {
            network: u32::from(addr) & mask,
            prefix,
        })
    }

    fn size(&self) -> u32 {
        1u32.checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(u32::MAX)
            .min(MAX_POOL)
    }

    fn offset_of(&self, ip: Ipv4Addr) -> Option<u32> {
        let offset = u32::from(ip).checked_sub(self.network)?;
        (offset < self.size()).then_some(offset)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// One node's pool: a bitmap of offsets in its CIDR.
#[derive(Debug)]
struct Pool {
    cidr: Cidr,
    used: Vec<u64>,
}

impl Pool {
    fn new(cidr: Cidr) -> Pool {
        Pool {
            cidr,
            used: vec![0; cidr.size().div_ceil(64) as usize],
        }
    }

    fn is_used(&self, offset: u32) -> bool {
        self.used[(offset / 64) as usize] & (1 << (offset % 64)) != 0
    }

    fn set(&mut self, offset: u32, used: bool) {
        let word = &mut self.used[(offset / 64) as usize];
        if used {
            *word |= 1 << (offset % 64);
        } else {
            *word &= !(1 << (offset % 64));
        }
    }

    /// The lowest free address, skipping the network address, the gateway (.1) and the
    /// broadcast address, as CNI host-local ranges do.
    fn allocate(&mut self) -> Option<Ipv4Addr> {
        let offset = (2..self.cidr.size() - 1).find(|&o| !self.is_used(o))?;
        self.set(offset, true);
        Some(Ipv4Addr::from(self.cidr.network + offset))
    }
}

/// Pod address pools of every node of one simulator.
#[derive(Debug, Default)]
pub struct PodIpam {
    pools: HashMap<u32, Pool>,
}

impl PodIpam {
    /// Use the node's assigned `spec.podCIDR` when it is IPv4, else the derived range.
    pub fn set_node_cidr(&mut self, node: u32, pod_cidr: Option<&str>) -> Cidr {
        let cidr = pod_cidr
            .and_then(Cidr::parse)
            .unwrap_or_else(|| default_pod_cidr(node));
        self.pools.insert(node, Pool::new(cidr));
        cidr
    }

    /// The range pods of `node` currently get addresses from.
    pub fn cidr(&self, node: u32) -> Cidr {
        self.pools
            .get(&node)
            .map_or_else(|| default_pod_cidr(node), |p| p.cidr)
    }

    fn pool(&mut self, node: u32) -> &mut Pool {
        self.pools
            .entry(node)
            .or_insert_with(|| Pool::new(default_pod_cidr(node)))
    }

    pub fn allocate(&mut self, node: u32) -> Option<Ipv4Addr> {
        self.pool(node).allocate()
    }

    /// Record an address a pod already has (a restarted simulator resuming its pods). Returns
    /// false when the address is outside the node's range or already taken.
    pub fn mark_used(&mut self, node: u32, ip: Ipv4Addr) -> bool {
        let pool = self.pool(node);
        match pool.cidr.offset_of(ip) {
            Some(offset) if !pool.is_used(offset) => {
                pool.set(offset, true);
                true
            }
            _ => false,
        }
    }

    pub fn release(&mut self, node: u32, ip: Ipv4Addr) {
        let pool = self.pool(node);
        if let Some(offset) = pool.cidr.offset_of(ip) {
            pool.set(offset, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_addresses_come_from_the_benchmarking_range() {
        assert_eq!(node_internal_ip(0), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(node_internal_ip(300), Ipv4Addr::new(198, 18, 1, 45));
        let last = u32::try_from(MAX_NODES).unwrap() - 1;
        assert_eq!(node_internal_ip(last), Ipv4Addr::new(198, 18, 64, 0));
    }

    #[test]
    fn derived_pod_ranges_do_not_overlap() {
        assert_eq!(default_pod_cidr(0).to_string(), "100.64.0.0/24");
        assert_eq!(default_pod_cidr(1).to_string(), "100.64.1.0/24");
        assert_eq!(default_pod_cidr(300).to_string(), "100.65.44.0/24");
        let last = u32::try_from(MAX_NODES).unwrap() - 1;
        assert_eq!(default_pod_cidr(last).to_string(), "100.127.255.0/24");
    }

    #[test]
    fn allocates_lowest_free_skipping_network_gateway_and_broadcast() {
        let mut ipam = PodIpam::default();
        ipam.set_node_cidr(0, Some("10.244.3.0/30"));
        assert_eq!(ipam.allocate(0), Some(Ipv4Addr::new(10, 244, 3, 2)));
        assert_eq!(ipam.allocate(0), None, "a /30 has one pod address");
        ipam.release(0, Ipv4Addr::new(10, 244, 3, 2));
        assert_eq!(ipam.allocate(0), Some(Ipv4Addr::new(10, 244, 3, 2)));
    }

    #[test]
    fn a_node_without_pod_cidr_uses_its_derived_range() {
        let mut ipam = PodIpam::default();
        assert_eq!(ipam.set_node_cidr(5, None).to_string(), "100.64.5.0/24");
        assert_eq!(
            ipam.set_node_cidr(6, Some("fd00::/64")).to_string(),
            "100.64.6.0/24"
        );
        assert_eq!(ipam.allocate(7), Some(Ipv4Addr::new(100, 64, 7, 2)));
        assert_eq!(ipam.allocate(7), Some(Ipv4Addr::new(100, 64, 7, 3)));
    }

    #[test]
    fn resumed_addresses_are_not_handed_out_again() {
        let mut ipam = PodIpam::default();
        assert!(ipam.mark_used(1, Ipv4Addr::new(100, 64, 1, 2)));
        assert!(!ipam.mark_used(1, Ipv4Addr::new(100, 64, 1, 2)));
        assert!(!ipam.mark_used(1, Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(ipam.allocate(1), Some(Ipv4Addr::new(100, 64, 1, 3)));
    }

    #[test]
    fn cidr_parsing_masks_host_bits() {
        assert_eq!(
            Cidr::parse("10.1.2.3/16").unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert!(Cidr::parse("10.1.2.3").is_none());
        assert!(Cidr::parse("10.1.2.3/31").is_none());
        assert!(Cidr::parse("fd00::/64").is_none());
    }
}
