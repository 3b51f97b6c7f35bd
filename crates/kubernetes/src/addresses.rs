//! The gateway's addresses, which the status writer publishes in `Ingress.status.loadBalancer`.
//!
//! Read from the instance's gateway Service, in this order (first non-empty wins):
//! 1. `status.loadBalancer.ingress[]`, IPs *and* hostnames (Higress drops hostname-only load balancers,
//!    so an AWS ELB gateway gets no status there);
//! 2. `spec.externalIPs`;
//! 3. the addresses of the nodes running the Service's ready pods (`ExternalIP` if a node has one,
//!    else `InternalIP`), for NodePort / hostNetwork gateways.
//!
//! [`gateway_addresses`] is the pure choice over fetched objects; [`fetch_gateway_addresses`] fetches
//! just what it needs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::networking::v1::IngressLoadBalancerIngress;
use kube::api::ListParams;
use kube::{Api, Client};

/// Why the gateway's addresses could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    /// An API request failed (other than "not found").
    #[error("cannot read {what}: {source}")]
    Api {
        /// What was being read (`Service higress-system/higress-gateway`).
        what: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// An address as published: `(ip, hostname)`, the identity of a status entry (ports are ignored).
pub type AddressKey = (Option<String>, Option<String>);

/// The identity of a status entry.
pub fn address_key(entry: &IngressLoadBalancerIngress) -> AddressKey {
    (entry.ip.clone(), entry.hostname.clone())
}

/// The gateway's addresses from its Service, the pods it selects and their nodes: sorted by
/// `(ip, hostname)`, without duplicates, each entry an IP and/or a hostname.
pub fn gateway_addresses(service: &Service, pods: &[Pod], nodes: &[Node]) -> Vec<IngressLoadBalancerIngress> {
    let balancer = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .map(|i| (non_empty(&i.ip), non_empty(&i.hostname)));
    let from_balancer = collect(balancer);
    if !from_balancer.is_empty() {
        return from_balancer;
    }
    let external = service.spec.as_ref().and_then(|s| s.external_ips.as_ref()).into_iter().flatten();
    let from_external = collect(external.map(|ip| (non_empty(&Some(ip.clone())), None)));
    if !from_external.is_empty() {
        return from_external;
    }
    collect(ready_nodes(pods).flat_map(|name| node_ips(nodes, name)).map(|ip| (Some(ip), None)))
}

/// Fetches the Service `namespace/service` and, when needed, its ready pods and their nodes, then
/// [`gateway_addresses`]. A missing Service (or node) means no addresses, not an error.
pub async fn fetch_gateway_addresses(
    client: &Client,
    namespace: &str,
    service: &str,
) -> Result<Vec<IngressLoadBalancerIngress>, AddressError> {
    let api_error = |what: String| move |source| AddressError::Api { what, source };
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let Some(svc) = services.get_opt(service).await.map_err(api_error(format!("Service {namespace}/{service}")))?
    else {
        tracing::debug!(namespace, service, "gateway Service not found: no addresses");
        return Ok(Vec::new());
    };
    let addresses = gateway_addresses(&svc, &[], &[]);
    if !addresses.is_empty() {
        return Ok(addresses);
    }
    let Some(selector) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()).filter(|s| !s.is_empty()) else {
        return Ok(addresses);
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default().labels(&label_selector(selector));
    let pods = pods.list(&params).await.map_err(api_error(format!("pods of Service {namespace}/{service}")))?.items;
    let node_api: Api<Node> = Api::all(client.clone());
    let mut nodes = Vec::new();
    let mut names: Vec<&str> = ready_nodes(&pods).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        if let Some(node) = node_api.get_opt(name).await.map_err(api_error(format!("Node {name}")))? {
            nodes.push(node);
        }
    }
    Ok(gateway_addresses(&svc, &pods, &nodes))
}

/// `k=v,k2=v2` for a Service selector.
fn label_selector(selector: &BTreeMap<String, String>) -> String {
    selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The node names of the pods whose `Ready` condition is `True`.
fn ready_nodes(pods: &[Pod]) -> impl Iterator<Item = &str> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let conditions = p.status.as_ref().and_then(|s| s.conditions.as_ref());
            conditions.into_iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True")
        })
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
}

/// The `ExternalIP`s of node `name`, else its `InternalIP`s.
fn node_ips(nodes: &[Node], name: &str) -> Vec<String> {
    let Some(node) = nodes.iter().find(|n| n.metadata.name.as_deref() == Some(name)) else { return Vec::new() };
    let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref()).map(Vec::as_slice).unwrap_or_default();
    let of_type = |t: &str| -> Vec<String> {
        addresses.iter().filter(|a| a.type_ == t && !a.address.is_empty()).map(|a| a.address.clone()).collect()
    };
    let external = of_type("ExternalIP");
    if external.is_empty() {
        of_type("InternalIP")
    } else {
        external
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

/// Sorted, deduplicated entries; keys with neither an IP nor a hostname are dropped.
fn collect(keys: impl Iterator<Item = AddressKey>) -> Vec<IngressLoadBalancerIngress> {
    let mut keys: Vec<AddressKey> = keys.filter(|(ip, host)| ip.is_some() || host.is_some()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().map(|(ip, hostname)| IngressLoadBalancerIngress { ip, hostname, ports: None }).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn service(status_lb: serde_json::Value, external_ips: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "gw", "namespace": "ns"},
            "spec": {"selector": {"app": "gw"}, "externalIPs": external_ips},
            "status": {"loadBalancer": {"ingress": status_lb}},
        }))
        .unwrap()
    }

    fn pod(name: &str, node: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": "gw"}},
            "spec": {"nodeName": node, "containers": []},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
        }))
        .unwrap()
    }

    fn node(name: &str, addresses: &[(&str, &str)]) -> Node {
        let addresses: Vec<_> = addresses.iter().map(|(t, a)| json!({"type": t, "address": a})).collect();
        serde_json::from_value(json!({"metadata": {"name": name}, "status": {"addresses": addresses}})).unwrap()
    }

    fn keys(entries: &[IngressLoadBalancerIngress]) -> Vec<AddressKey> {
        entries.iter().map(address_key).collect()
    }

    fn ip(s: &str) -> AddressKey {
        (Some(s.into()), None)
    }

    #[test]
    fn load_balancer_ips_and_hostnames_win() {
        let lb =
            json!([{"ip": "10.0.0.2"}, {"hostname": "gw.elb.example.com"}, {"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]);
        let svc = service(lb, json!(["192.0.2.1"]));
        let nodes = [node("n1", &[("ExternalIP", "198.51.100.1")])];
        let got = gateway_addresses(&svc, &[pod("p", "n1", true)], &nodes);
        assert_eq!(keys(&got), [(None, Some("gw.elb.example.com".into())), ip("10.0.0.1"), ip("10.0.0.2")]);
    }

    #[test]
    fn external_ips_when_no_load_balancer() {
        let svc = service(json!([]), json!(["192.0.2.2", "192.0.2.1"]));
        assert_eq!(keys(&gateway_addresses(&svc, &[], &[])), [ip("192.0.2.1"), ip("192.0.2.2")]);
    }

    #[test]
    fn node_addresses_of_ready_pods_last() {
        let svc = service(json!([]), json!([]));
        let pods = [pod("a", "n1", true), pod("b", "n2", true), pod("c", "n3", false), pod("d", "n1", true)];
        let nodes = [
            node("n1", &[("InternalIP", "10.1.0.1"), ("ExternalIP", "198.51.100.1")]),
            node("n2", &[("InternalIP", "10.1.0.2"), ("Hostname", "n2")]),
            node("n3", &[("ExternalIP", "198.51.100.3")]),
        ];
        let got = gateway_addresses(&svc, &pods, &nodes);
        assert_eq!(keys(&got), [ip("10.1.0.2"), ip("198.51.100.1")], "n3's pod is not ready");
        assert!(gateway_addresses(&svc, &[], &nodes).is_empty());
    }
}
