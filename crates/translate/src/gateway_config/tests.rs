use std::collections::BTreeMap;

use oxigress_objects::k8s_openapi::api::core::v1::ConfigMap;
use oxigress_objects::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use oxigress_objects::KubeObject;

use super::*;

fn mk_config_map(name: &str, text: &str, labels: &[(&str, &str)]) -> KubeObject {
    KubeObject::ConfigMap(ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("higress-system".into()),
            labels: (!labels.is_empty())
                .then(|| labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()),
            ..Default::default()
        },
        data: Some([(DATA_KEY.to_string(), text.to_string())].into()),
        ..Default::default()
    })
}

fn mk_settings(objects: Vec<KubeObject>, previous: Option<&Snapshot>) -> (GatewaySettings, Vec<Diagnostic>) {
    let resources = Resources::from_objects(objects);
    let mut diagnostics = Vec::new();
    let settings = settings(&resources, &InstanceOptions::default(), previous, &mut diagnostics);
    (settings, diagnostics)
}

#[test]
fn without_a_config_map_the_defaults_are_higress_chart_defaults() {
    let (settings, diagnostics) = mk_settings(Vec::new(), None);
    assert!(settings.gzip.enable);
    assert_eq!(settings.gzip.min_content_length, 1024);
    assert_eq!(settings.downstream.idle_timeout, 180);
    assert_eq!(settings.upstream.idle_timeout, 10);
    assert!(diagnostics.is_empty());
}

#[test]
fn keys_left_out_keep_their_defaults() {
    let text = "gzip:\n  minContentLength: 100\n  compressionLevel: BEST_SPEED\naddXRealIpHeader: true\ndownstream:\n  idleTimeout: 30\n";
    let (settings, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    assert!(settings.gzip.enable, "enable keeps its default, as Go's decoding onto the defaults");
    assert_eq!(settings.gzip.min_content_length, 100);
    assert_eq!(settings.gzip.level, 1);
    assert_eq!(settings.downstream.idle_timeout, 30);
    assert_eq!(settings.downstream.max_request_headers_kb, 60);
    assert!(settings.add_x_real_ip_header);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
}

#[test]
fn invalid_values_keep_the_last_good_settings() {
    let previous = Snapshot {
        settings: GatewaySettings { add_x_real_ip_header: true, ..GatewaySettings::default() },
        ..Snapshot::default()
    };
    for text in [
        "gzip:\n  memoryLevel: 12\n",
        "gzip:\n  compressionLevel: FASTEST\n",
        "gzip:\n  contentType: []\n",
        "downstream:\n  maxRequestHeadersKb: 9000\n",
        "downstream:\n  http2:\n    initialStreamWindowSize: 10\n",
        "downstream:\n  idleTimeout: soon\n",
        "gzip: [1, 2]\n",
    ] {
        let (settings, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], Some(&previous));
        assert_eq!(settings, previous.settings, "{text}");
        assert_eq!(diagnostics.len(), 1, "{text}: {diagnostics:?}");
        assert_eq!(diagnostics[0].code, "InvalidGatewayConfig");
    }
}

#[test]
fn the_release_scoped_name_wins_and_other_instances_labels_are_skipped() {
    let own = mk_config_map("higress-gateway-config", "addXRealIpHeader: true\n", &[]);
    let shared = mk_config_map("higress-config", "gzip:\n  enable: false\n", &[]);
    let (settings, _) = mk_settings(vec![own, shared.clone()], None);
    assert!(settings.add_x_real_ip_header);
    assert!(settings.gzip.enable);

    let labelled = mk_config_map("higress-config", "gzip:\n  enable: false\n", &[("oxigress.io/instance", "other")]);
    let (settings, _) = mk_settings(vec![labelled], None);
    assert!(settings.gzip.enable, "another instance's ConfigMap is not read");
    let (settings, _) = mk_settings(vec![shared], None);
    assert!(!settings.gzip.enable);
}

#[test]
fn settings_without_effect_are_reported() {
    let text = "downstream:\n  http2:\n    maxConcurrentStreams: 10\ntracing:\n  enable: true\n";
    let (settings, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 1, "http2 settings apply, tracing does not: {messages:?}");
    assert!(messages[0].contains("tracing"), "{messages:?}");
    assert_eq!(diagnostics[0].code, "PartialGatewayConfig");
    assert_eq!(settings.downstream.http2.max_concurrent_streams, 10);
}

#[test]
fn buffer_limits_beyond_what_is_buffered_are_reported() {
    let text = "downstream:\n  connectionBufferLimits: 104857600\n";
    let (settings, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(settings.downstream.connection_buffer_limits, 104_857_600);

    let text = "downstream:\n  connectionBufferLimits: 209715200\nupstream:\n  connectionBufferLimits: 1024\n";
    let (settings, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].contains("downstream.connectionBufferLimits 209715200 is applied as 104857600"), "{messages:?}");
    assert!(messages[1].contains("upstream.connectionBufferLimits 1024 is not applied"), "{messages:?}");
    assert_eq!(settings.downstream.connection_buffer_limits, 209_715_200, "the IR keeps the value asked for");

    // An upstream limit at or above what pingora may hold of an upstream connection is kept.
    let text = "upstream:\n  connectionBufferLimits: 327680\n";
    let (_, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");

    // 0: no limit of its own in Envoy; here the 100 MiB cap.
    let text = "downstream:\n  connectionBufferLimits: 0\n";
    let (_, diagnostics) = mk_settings(vec![mk_config_map("higress-config", text, &[])], None);
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("connectionBufferLimits 0 is applied as 104857600"), "{diagnostics:?}");
}
