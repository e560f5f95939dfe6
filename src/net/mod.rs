//! HTTP out of atomicd, bounded: a JSON client over rustls with the TLS files a configuration
//! names, shared by the fleet's reboot locks (FleetLock, etcd) and the signature lookaside.

pub mod http;
#[cfg(test)]
pub(crate) mod stub;
pub mod tls;
