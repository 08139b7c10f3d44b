//! Network addressing shared by the compose model and the engine backend:
//! an IPAM pool (a subnet with its range and gateway) and the addresses a
//! container asks for on a network.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One pool of a network's IP address management.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamPool {
    /// CIDR, `172.28.0.0/16`.
    pub subnet: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
}

/// A container's place on one network: its aliases and the addresses it
/// asks for (empty: the engine's choice).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Endpoint {
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv4_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    /// The container's MAC address there (Docker API 1.44 on).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// The interface's name in the container (Docker API 1.49 on).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface_name: String,
    /// Which network's gateway is the default route (Docker API 1.48 on).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gw_priority: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Endpoint {
    /// An endpoint with only aliases.
    pub fn aliased(aliases: Vec<String>) -> Self {
        Endpoint {
            aliases,
            ..Endpoint::default()
        }
    }
}

/// Whether `addr` (an IPv4 address) lies in `cidr` (`a.b.c.d/n`); false
/// when either does not parse.
pub fn ipv4_in(addr: &str, cidr: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(a), Ok(n), Ok(bits)) = (
        addr.parse::<core::net::Ipv4Addr>(),
        net.parse::<core::net::Ipv4Addr>(),
        bits.parse::<u32>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(a) & mask == u32::from(n) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_subnets() {
        assert!(ipv4_in("172.28.5.10", "172.28.0.0/16"));
        assert!(!ipv4_in("172.29.5.10", "172.28.0.0/16"));
        assert!(ipv4_in("10.0.0.1", "0.0.0.0/0"));
        assert!(!ipv4_in("10.0.0.1", "10.0.0.0/33"));
        assert!(!ipv4_in("x", "10.0.0.0/8"));
    }
}
