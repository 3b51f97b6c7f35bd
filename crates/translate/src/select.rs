//! Step (3): select what this instance owns. Ingress class and watched-namespace rules exactly as Higress
//! (`pkg/ingress/kube/ingressv1/controller.go` `shouldProcessIngressWithClass`), with several namespaces.

use oxigress_objects::k8s_openapi::api::networking::v1::Ingress;
use oxigress_objects::{ObjectKey, Resources};

use crate::options::InstanceOptions;

/// The annotation that, when present (even empty), wins over `spec.ingressClassName`.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The label that ties an object to one instance when several share a namespace; absent = every instance.
pub const INSTANCE_LABEL: &str = "oxigress.io/instance";

/// Whether an object with these labels is visible to `options`' instance (oxigress extension: Higress has
/// no such label, so without it behaviour is Higress's).
pub fn instance_label_matches(
    labels: Option<&std::collections::BTreeMap<String, String>>,
    options: &InstanceOptions,
) -> bool {
    labels.and_then(|l| l.get(INSTANCE_LABEL)).is_none_or(|owner| owner == &options.instance_name)
}

/// Whether this instance serves `ingress`.
///
/// why: Higress matches the class by *name*; `IngressClass.spec.controller` and the default-class
/// annotation are never consulted. The annotation, when present, wins over the field.
pub fn selects_ingress(ingress: &Ingress, resources: &Resources, options: &InstanceOptions) -> bool {
    ingress_selection(ingress, resources, options).is_ok()
}

/// Why an instance does not serve an Ingress (the controller logs it at debug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Skipped {
    /// Its namespace is not one of `--watch-namespace`.
    #[error("namespace {0} is not watched")]
    NamespaceNotWatched(String),
    /// Its `oxigress.io/instance` label names another instance.
    #[error("labelled for instance {0}")]
    OtherInstance(String),
    /// Its class (annotation, else `spec.ingressClassName`) is not this instance's.
    #[error("class {class:?} (from the {source_field}) is not {wanted:?}")]
    OtherClass {
        /// The class it asks for (`None` = no class).
        class: Option<String>,
        /// Where the class came from: `kubernetes.io/ingress.class annotation` or `spec.ingressClassName`.
        source_field: &'static str,
        /// This instance's class.
        wanted: String,
    },
}

/// [`selects_ingress`] with the reason when it does not.
pub fn ingress_selection(ingress: &Ingress, resources: &Resources, options: &InstanceOptions) -> Result<(), Skipped> {
    let namespace = ingress.metadata.namespace.as_deref().unwrap_or("");
    if !options.watches(namespace) {
        return Err(Skipped::NamespaceNotWatched(namespace.to_string()));
    }
    if !instance_label_matches(ingress.metadata.labels.as_ref(), options) {
        let owner = ingress.metadata.labels.as_ref().and_then(|l| l.get(INSTANCE_LABEL)).cloned().unwrap_or_default();
        return Err(Skipped::OtherInstance(owner));
    }
    if class_matches(ingress, resources, &options.ingress_class) {
        return Ok(());
    }
    let annotation = ingress.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
    let (class, source_field) = match annotation {
        Some(value) => (Some(value.clone()), "kubernetes.io/ingress.class annotation"),
        None => (ingress.spec.as_ref().and_then(|s| s.ingress_class_name.clone()), "spec.ingressClassName"),
    };
    Err(Skipped::OtherClass { class, source_field, wanted: options.ingress_class.clone() })
}

fn class_matches(ingress: &Ingress, resources: &Resources, wanted: &str) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let annotation = ingress.metadata.annotations.as_ref().and_then(|a| a.get(CLASS_ANNOTATION));
    if let Some(value) = annotation {
        return if wanted == "nginx" { value.is_empty() || value == "nginx" } else { value == wanted };
    }
    let name = ingress.spec.as_ref().and_then(|s| s.ingress_class_name.as_deref());
    let class_exists = name.is_some_and(|n| resources.ingress_classes.contains_key(&ObjectKey::new("", n)));
    match name {
        // An existing IngressClass object: matched by its name.
        Some(name) if class_exists => name == wanted,
        // No class, or a dangling class name.
        _ if wanted == "nginx" => matches!(name, None | Some("") | Some("nginx")),
        Some(name) => name == wanted,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigress_objects::k8s_openapi::api::networking::v1::IngressSpec;
    use oxigress_objects::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn ingress(class: Option<&str>, annotation: Option<&str>) -> Ingress {
        Ingress {
            metadata: ObjectMeta {
                namespace: Some("default".into()),
                name: Some("i".into()),
                annotations: annotation.map(|a| [(CLASS_ANNOTATION.to_string(), a.to_string())].into()),
                ..Default::default()
            },
            spec: Some(IngressSpec { ingress_class_name: class.map(String::from), ..Default::default() }),
            status: None,
        }
    }

    fn selects(class: Option<&str>, annotation: Option<&str>, wanted: &str) -> bool {
        let options = InstanceOptions { ingress_class: wanted.into(), ..Default::default() };
        selects_ingress(&ingress(class, annotation), &Resources::default(), &options)
    }

    #[test]
    fn instance_label_narrows_selection() {
        let mut labelled = ingress(Some("higress"), None);
        labelled.metadata.labels = Some([(INSTANCE_LABEL.to_string(), "higress-prod".to_string())].into());
        let prod = InstanceOptions { instance_name: "higress-prod".into(), ..Default::default() };
        let test = InstanceOptions { instance_name: "higress-test".into(), ..Default::default() };
        assert!(selects_ingress(&labelled, &Resources::default(), &prod));
        assert!(!selects_ingress(&labelled, &Resources::default(), &test));
        assert!(selects_ingress(&ingress(Some("higress"), None), &Resources::default(), &test));
    }

    #[test]
    fn class_rules() {
        assert!(selects(Some("higress"), None, "higress"));
        assert!(!selects(None, None, "higress"));
        assert!(selects(None, None, "nginx"));
        assert!(selects(Some("nginx"), None, "nginx"));
        assert!(!selects(Some("other"), None, "nginx"));
        assert!(selects(Some("other"), None, ""));
        // The annotation wins over the field, even when empty.
        assert!(selects(Some("other"), Some("higress"), "higress"));
        assert!(!selects(Some("higress"), Some("other"), "higress"));
        assert!(!selects(Some("higress"), Some(""), "higress"));
        assert!(selects(Some("higress"), Some(""), "nginx"));
    }
}
