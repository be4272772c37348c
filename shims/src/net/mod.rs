//! Networking: sockets and local name resolution.

pub mod hosts;
pub mod netdb;
pub mod socket;
