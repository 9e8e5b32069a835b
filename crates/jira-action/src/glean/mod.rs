//! What Glean sees: the request contract, the OpenAPI document it is
//! registered with, and the (legacy) tool manifest.

pub mod contract;
pub mod email;
pub mod manifest;
pub mod openapi;
pub mod signature;
