//! The outbound allow-list (scheme://host:port), checked before any connection is made.

use std::collections::HashSet;
use std::net::{SocketAddr, ToSocketAddrs};

pub struct AllowList {
    http: HashSet<(String, String, u16)>,
    addrs: HashSet<SocketAddr>,
}

fn split(entry: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = entry.split_once("://")?;
    let (host, port) = rest.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    Some((scheme.to_ascii_lowercase(), host, port.parse().ok()?))
}

impl AllowList {
    /// Socket addresses are those the names resolve to now (only `tcp` entries open raw
    /// sockets); `http`/`https` entries are matched by name when a request is sent.
    pub fn new(entries: &[String]) -> AllowList {
        let mut http = HashSet::new();
        let mut addrs = HashSet::new();
        for (scheme, host, port) in entries.iter().filter_map(|e| split(e)) {
            if scheme == "tcp" || scheme == "http" || scheme == "https" {
                if let Ok(found) = (host.as_str(), port).to_socket_addrs() {
                    addrs.extend(found);
                }
            }
            http.insert((scheme, host, port));
        }
        AllowList { http, addrs }
    }

    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
    }

    pub fn allows_http(&self, uri: &hyper::Uri, tls: bool) -> bool {
        let scheme = if tls { "https" } else { "http" };
        let Some(host) = uri.host() else { return false };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        self.http.contains(&(scheme.to_owned(), host, port))
    }

    pub fn allows_socket(&self, addr: &SocketAddr) -> bool {
        self.addrs.contains(addr)
    }
}
