//! HTTP Basic authentication (ASAP): `auth-type: basic`, `auth-secret` (`[ns/]name`), `auth-secret-type`
//! (`auth-file`, the default: data key `auth` holds htpasswd lines; `auth-map`: each key is a user, its
//! value the password), `auth-realm`.
//!
//! why: Higress 1.x (`pkg/ingress/kube/annotations/auth.go` before 2.0) read these exactly so (both
//! annotations required, lines without `:` skipped, credentials sorted) and turned them into a basic-auth
//! filter; Higress 2.x only logs that they are unsupported. ingress-nginx serves the same Secrets with
//! nginx `auth_basic`. oxigress verifies plain, `{PLAIN}`, `{SHA}` and MD5-crypt (`$apr1$`, `$1$`,
//! `htpasswd -m`) passwords; other hashes (bcrypt, SHA-crypt) are reported and that user cannot log in.
//! A missing Secret (or one without `auth`), an `auth-type` other than `basic` or a missing
//! `auth-secret` deny every request (ingress-nginx's answer; Higress 1.x left the route open): an
//! authentication annotation never silently opens a route. An unknown `auth-secret-type` means
//! `auth-file` (Higress 1.x), with a diagnostic.

use oxigress_ir::BasicAuth;
use oxigress_objects::{Diagnostic, ObjectRef};

use super::{invalid_annotation, Annotations};
use crate::inputs::Reader;
use crate::tls::secret_value;

/// What the annotations ask for; the Secret is read by [`BasicAuthSpec::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicAuthSpec {
    /// `(namespace, name)`; `None` when the annotations are invalid (every request denied).
    secret: Option<(String, String)>,
    map: bool,
    realm: String,
}

impl BasicAuthSpec {
    /// Reads the auth annotations; `None` without `auth-type`.
    pub fn parse(
        annotations: &Annotations<'_>,
        namespace: &str,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Option<Self> {
        let auth_type = annotations.asap("auth-type").map(str::trim);
        let secret_name = annotations.asap("auth-secret").map(str::trim);
        let mut invalid = |message: String| {
            diagnostics.push(invalid_annotation(object, message));
        };
        let auth_type = auth_type?;
        let realm = annotations.asap("auth-realm").unwrap_or("").to_string();
        let deny_all = Self { secret: None, map: false, realm: realm.clone() };
        if auth_type != "basic" {
            invalid(format!("auth-type: {auth_type:?} is not supported (only basic); every request is denied"));
            return Some(deny_all);
        }
        let Some(secret_name) = secret_name.filter(|s| !s.is_empty()) else {
            invalid("auth-type: basic needs auth-secret; every request is denied".into());
            return Some(deny_all);
        };
        let (ns, name) = secret_name.split_once('/').unwrap_or((namespace, secret_name));
        if name.is_empty() {
            invalid(format!("auth-secret: {secret_name:?} names no Secret; every request is denied"));
            return Some(deny_all);
        }
        let map = match annotations.asap("auth-secret-type").map(str::trim) {
            None | Some("auth-file") => false,
            Some("auth-map") => true,
            Some(other) => {
                invalid(format!("auth-secret-type: {other:?} is not auth-file or auth-map; auth-file is used"));
                false
            }
        };
        let ns = if ns.is_empty() { namespace } else { ns };
        Some(Self { secret: Some((ns.to_string(), name.to_string())), map, realm })
    }

    /// The credentials from the Secret; problems become diagnostics about `object`.
    pub(crate) fn resolve(
        &self,
        reader: &mut Reader<'_, '_>,
        object: &ObjectRef,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> BasicAuth {
        let Some((namespace, name)) = &self.secret else {
            return BasicAuth { realm: self.realm.clone(), credentials: Vec::new() };
        };
        let id = format!("{namespace}/{name}");
        let mut credentials: Vec<String> = match reader.secret(namespace, name) {
            None => {
                diagnostics.push(Diagnostic::warning(
                    "AuthSecretNotFound",
                    Some(object.clone()),
                    format!("auth-secret {id} not found; every request is denied"),
                ));
                Vec::new()
            }
            Some(found) if self.map => {
                let data = found.data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()));
                let string_data = found.string_data.iter().flatten().map(|(k, v)| (k.clone(), v.clone()));
                data.chain(string_data).map(|(user, password)| format!("{user}:{}", password.trim_end())).collect()
            }
            Some(found) => match secret_value(found, "auth") {
                Some(file) => file.lines().map(str::trim).filter(|l| l.contains(':')).map(String::from).collect(),
                None => {
                    diagnostics.push(Diagnostic::warning(
                        "AuthSecretNotFound",
                        Some(object.clone()),
                        format!("auth-secret {id} has no key \"auth\" (auth-file); every request is denied"),
                    ));
                    Vec::new()
                }
            },
        };
        credentials.retain(|line| {
            let (user, secret) = line.split_once(':').unwrap_or((line, ""));
            let supported = !["$2a$", "$2b$", "$2y$", "$5$", "$6$", "{SSHA}"].iter().any(|p| secret.starts_with(p));
            if !supported {
                diagnostics.push(Diagnostic::warning(
                    "UnsupportedPasswordHash",
                    Some(object.clone()),
                    format!("auth-secret {id}: user {user:?} has a password hash oxigress cannot verify (use htpasswd -m, -s or plain); that user cannot log in"),
                ));
            }
            supported
        });
        credentials.sort();
        BasicAuth { realm: self.realm.clone(), credentials }
    }
}
