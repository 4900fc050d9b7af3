//! Built-in kinds: their schemas, from keelson-proto's field table.

pub(crate) mod definitions;
pub(crate) mod extensions;
pub(crate) mod table;
pub(crate) mod unknown;
