//! [`fetch_gateway_addresses`] against the stand-in: the node-address fallback reads the Service's
//! ready pods and their nodes; a missing Service is no addresses.

#![allow(clippy::unwrap_used)]

use oxigress_kube_standin::StandIn;
use oxigress_kubernetes::fetch_gateway_addresses;

const CLUSTER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: gw, namespace: higress-system}
spec: {type: NodePort, selector: {app: gw}}
---
apiVersion: v1
kind: Pod
metadata: {name: gw-1, namespace: higress-system, labels: {app: gw}}
spec: {nodeName: n1, containers: []}
status: {conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: gw-2, namespace: higress-system, labels: {app: gw}}
spec: {nodeName: n2, containers: []}
status: {conditions: [{type: Ready, status: "False"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: higress-system, labels: {app: other}}
spec: {nodeName: n3, containers: []}
status: {conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 10.1.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 10.1.0.2}]}
---
apiVersion: v1
kind: Node
metadata: {name: n3}
status: {addresses: [{type: ExternalIP, address: 198.51.100.3}]}
"#;

#[tokio::test]
async fn node_addresses_of_the_ready_selected_pods() {
    let k8s = StandIn::start().await.unwrap();
    k8s.apply_yaml(CLUSTER).unwrap();
    let client = k8s.client("status").unwrap();
    let got = fetch_gateway_addresses(&client, "higress-system", "gw").await.unwrap();
    let ips: Vec<_> = got.iter().map(|a| a.ip.as_deref().unwrap()).collect();
    assert_eq!(ips, ["10.1.0.1"]);
    assert!(fetch_gateway_addresses(&client, "higress-system", "absent").await.unwrap().is_empty());
}
