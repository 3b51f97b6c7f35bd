//! `azure` (azure.go): Azure OpenAI at the host of `azureServiceUrl` (which must carry `api-version`),
//! token in `api-key`. The URL's path decides the upstream path: a full path is used as is; a
//! `/openai/deployments/<name>` prefix fixes the deployment; a bare host puts the mapped model in
//! `/openai/deployments/{model}/…`. The `api-version` query is added to every path.

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::provider::{default_transform, handle_request_body, AiError, Body, Call, Provider, Upstream};
use super::openai::{needs_body, openai_capabilities};
use crate::{ConfigError, RequestView};

/// What the service URL's path says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UrlKind {
    /// Use this path (and query) for every request.
    Full(String),
    /// `/openai/deployments/<deployment>`: that deployment for model-relevant APIs.
    Deployment(String),
    /// Host only: the model names the deployment.
    DomainOnly,
}

/// APIs whose Azure path has no deployment.
const MODEL_IRRELEVANT: &[ApiName] =
    &[api::MODELS, api::BATCHES, api::RETRIEVE_BATCH, api::CANCEL_BATCH, api::FILES, api::RETRIEVE_FILE, api::RETRIEVE_FILE_CONTENT, api::RESPONSES];

/// The `azure` provider.
#[derive(Debug)]
pub(crate) struct Azure {
    config: ProviderConfig,
    capabilities: Capabilities,
    host: String,
    query: String,
    kind: UrlKind,
}

impl Azure {
    /// Builds it: `azureServiceUrl` with `api-version`, and tokens, are required.
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        let url_field = format!("{field}.azureServiceUrl");
        let raw = config.string("azureServiceUrl");
        if raw.is_empty() {
            return Err(ConfigError::new(url_field, "missing azureServiceUrl in provider config"));
        }
        let uri: http::Uri = raw.parse().map_err(|_| ConfigError::new(url_field.clone(), "invalid azureServiceUrl"))?;
        let query = uri.query().unwrap_or_default().to_string();
        if !query.split('&').any(|pair| pair.split('=').next() == Some("api-version")) {
            return Err(ConfigError::new(url_field, "missing api-version query parameter in azureServiceUrl"));
        }
        config.require_tokens(field)?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let path = uri.path().to_string();
        let kind = match path.find("/openai/deployments/") {
            Some(at) => {
                let rest = &path[at + "/openai/deployments/".len()..];
                match rest.split_once('/') {
                    Some((deployment, tail)) if !deployment.is_empty() && !tail.is_empty() => UrlKind::Full(format!("{path}?{query}")),
                    Some((deployment, _)) if !deployment.is_empty() => UrlKind::Deployment(deployment.to_string()),
                    None if !rest.is_empty() => UrlKind::Deployment(rest.to_string()),
                    _ => UrlKind::Full(format!("{path}?{query}")),
                }
            }
            None if !path.is_empty() && path != "/" => UrlKind::Full(format!("{path}?{query}")),
            None => UrlKind::DomainOnly,
        };
        let mut capabilities: Capabilities = openai_capabilities()
            .iter()
            .filter_map(|(api, path)| {
                let rest = path.strip_prefix("/v1")?;
                let prefix = if MODEL_IRRELEVANT.contains(api) { "/openai".to_string() } else { "/openai/deployments/{model}".to_string() };
                Some((api.to_string(), format!("{prefix}{rest}")))
            })
            .collect();
        capabilities.extend(config.capabilities.clone());
        Ok(Self { config, capabilities, host, query, kind })
    }

    /// The upstream path for `call` (azure.go `transformRequestPath`).
    fn path(&self, call: &Call) -> Option<String> {
        if self.config.is_original() {
            return None;
        }
        if let UrlKind::Full(path) = &self.kind {
            return Some(path.clone());
        }
        let mut path = api::map_path(call.api?, &call.original_path, &self.capabilities).unwrap_or_default();
        if path.contains("{model}") {
            let model = match &self.kind {
                UrlKind::Deployment(deployment) => deployment.clone(),
                _ if !call.final_model.is_empty() => call.final_model.clone(),
                _ => "placeholder".to_string(),
            };
            path = path.replace("{model}", &model);
        }
        if !path.contains('?') {
            path.push('?');
        } else if !path.ends_with('?') {
            path.push('&');
        }
        path.push_str(&self.query);
        Some(path)
    }
}

impl Provider for Azure {
    fn kind(&self) -> &'static str {
        "azure"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn credentials(&self, token: &str) -> Vec<(&'static str, String)> {
        vec![("api-key", token.to_string())]
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        if let Some(path) = self.path(call) {
            up.path = path;
        }
        up.host = self.host.clone();
        up.set("api-key", call.token.clone());
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !self.supports(call.api) || !needs_body(call.api) {
            return Ok(Body::Keep);
        }
        handle_request_body(self, call, up, request, body)
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        let body = default_transform(&self.config, call, up, body)?;
        // why: the path may name the (mapped) model, known only now.
        if let Some(path) = self.path(call) {
            up.path = path;
        }
        Ok(body)
    }
}
