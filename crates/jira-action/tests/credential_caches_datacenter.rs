//! The `credential_caches` suite against the simulator's Data Center mode: the same
//! file built a second time, as a target whose name ends in `_datacenter`,
//! from which `tests/common` picks the Data Center simulator.

#[path = "credential_caches.rs"]
mod suite;
