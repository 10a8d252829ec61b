//! Listeners that conflict (docs/gateway-api.md, "Status"): on one port, a listener of
//! another protocol (`ProtocolConflict`) or one with the same hostname, or both without
//! one (`HostnameConflict`). The specification lets a controller accept a Gateway with
//! conflicted listeners only by serving the listeners that have no conflict, so each
//! listener of a conflicting pair is left out, and its status says why.

use super::types::GatewayListener;

/// Why a listener conflicts: the `Conflicted=True` condition's reason, and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub reason: &'static str,
    pub message: String,
}

/// For each of `listeners` (by index), its conflict with the first other listener of its
/// port that conflicts with it, if any.
pub fn conflicts(listeners: &[GatewayListener]) -> Vec<Option<Conflict>> {
    listeners
        .iter()
        .enumerate()
        .map(|(i, listener)| {
            let others = listeners
                .iter()
                .enumerate()
                .filter(|(j, o)| *j != i && o.port == listener.port)
                .map(|(_, o)| o);
            others.into_iter().find_map(|other| {
                if other.protocol != listener.protocol {
                    Some(Conflict {
                        reason: "ProtocolConflict",
                        message: format!(
                            "listener {} on port {} has protocol {}",
                            other.name, other.port, other.protocol
                        ),
                    })
                } else if other.hostname == listener.hostname {
                    Some(Conflict {
                        reason: "HostnameConflict",
                        message: format!(
                            "listener {} on port {} has the same hostname ({})",
                            other.name,
                            other.port,
                            other.hostname.as_deref().unwrap_or("none")
                        ),
                    })
                } else {
                    None
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(name: &str, port: u16, protocol: &str, hostname: Option<&str>) -> GatewayListener {
        serde_json::from_value(serde_json::json!({
            "name": name, "port": port, "protocol": protocol, "hostname": hostname,
        }))
        .unwrap()
    }

    #[test]
    fn a_port_conflicts_by_protocol_or_by_the_same_hostname_and_both_sides_say_so() {
        let listeners = [
            listener("a", 8080, "HTTP", Some("a.example.com")),
            listener("b", 8080, "HTTP", Some("a.example.com")),
            listener("c", 8080, "HTTP", Some("c.example.com")),
            listener("d", 9090, "HTTP", None),
            listener("e", 9090, "HTTPS", Some("e.example.com")),
            listener("f", 7070, "HTTP", None),
            listener("g", 7070, "HTTP", None),
            listener("h", 6060, "HTTP", None),
        ];
        let got: Vec<Option<&str>> = conflicts(&listeners)
            .iter()
            .map(|c| c.as_ref().map(|c| c.reason))
            .collect();
        assert_eq!(
            got,
            [
                Some("HostnameConflict"),
                Some("HostnameConflict"),
                None,
                Some("ProtocolConflict"),
                Some("ProtocolConflict"),
                Some("HostnameConflict"),
                Some("HostnameConflict"),
                None,
            ]
        );
        let a = conflicts(&listeners)[0].clone().unwrap();
        assert_eq!(
            a.message,
            "listener b on port 8080 has the same hostname (a.example.com)"
        );
    }
}
