//! `openai` (openai.go: api.openai.com or `openaiCustomUrl`, every OpenAI API; without `apiTokens` the
//! client's own key is forwarded) and `generic` (generic.go: any OpenAI-compatible server, no path
//! rewrite, host from `genericHost`, body untouched).

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::provider::{handle_request_body, header, join_path, set_capability_path, AiError, Body, Call, Provider, Upstream};
use crate::{ConfigError, RequestView};

/// openai.go `DefaultCapabilities`.
const OPENAI_CAPABILITIES: &[(ApiName, &str)] = &[
    (api::COMPLETION, api::PATH_COMPLETIONS),
    (api::CHAT_COMPLETION, api::PATH_CHAT_COMPLETIONS),
    (api::EMBEDDINGS, api::PATH_EMBEDDINGS),
    (api::IMAGE_GENERATION, "/v1/images/generations"),
    (api::IMAGE_EDIT, "/v1/images/edits"),
    (api::IMAGE_VARIATION, "/v1/images/variations"),
    (api::AUDIO_SPEECH, "/v1/audio/speech"),
    (api::AUDIO_TRANSCRIPTION, "/v1/audio/transcriptions"),
    (api::AUDIO_TRANSLATION, "/v1/audio/translations"),
    (api::REALTIME, "/v1/realtime"),
    (api::MODELS, api::PATH_MODELS),
    (api::FILES, "/v1/files"),
    (api::RETRIEVE_FILE, "/v1/files/{file_id}"),
    (api::RETRIEVE_FILE_CONTENT, "/v1/files/{file_id}/content"),
    (api::BATCHES, "/v1/batches"),
    (api::RETRIEVE_BATCH, "/v1/batches/{batch_id}"),
    (api::CANCEL_BATCH, "/v1/batches/{batch_id}/cancel"),
    (api::RESPONSES, "/v1/responses"),
    (api::FINE_TUNING_JOBS, "/v1/fine_tuning/jobs"),
    (api::RETRIEVE_FINE_TUNING_JOB, "/v1/fine_tuning/jobs/{fine_tuning_job_id}"),
    (api::FINE_TUNING_JOB_EVENTS, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/events"),
    (api::FINE_TUNING_JOB_CHECKPOINTS, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints"),
    (api::CANCEL_FINE_TUNING_JOB, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel"),
    (api::RESUME_FINE_TUNING_JOB, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume"),
    (api::PAUSE_FINE_TUNING_JOB, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause"),
    (api::FINE_TUNING_CHECKPOINT_PERMISSIONS, "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions"),
    (api::DELETE_FINE_TUNING_CHECKPOINT_PERMISSION, "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}"),
    (api::VIDEOS, "/v1/videos"),
    (api::RETRIEVE_VIDEO, "/v1/videos/{video_id}"),
    (api::VIDEO_REMIX, "/v1/videos/{video_id}/remix"),
    (api::RETRIEVE_VIDEO_CONTENT, "/v1/videos/{video_id}/content"),
];

/// openai.go's capability table (azure derives its own from it).
pub(crate) fn openai_capabilities() -> &'static [(ApiName, &'static str)] {
    OPENAI_CAPABILITIES
}

/// APIs whose body openai.go processes (provider.go `needToProcessRequestBody`).
pub(crate) fn needs_body(api: Option<ApiName>) -> bool {
    matches!(
        api,
        Some(
            api::CHAT_COMPLETION
                | api::VIDEOS
                | api::VIDEO_REMIX
                | api::COMPLETION
                | api::EMBEDDINGS
                | api::IMAGE_GENERATION
                | api::IMAGE_EDIT
                | api::IMAGE_VARIATION
                | api::AUDIO_SPEECH
                | api::FINE_TUNING_JOBS
                | api::RESPONSES
                | api::GEMINI_GENERATE_CONTENT
                | api::GEMINI_STREAM_GENERATE_CONTENT
                | api::ANTHROPIC_MESSAGES
        )
    )
}

/// Whether a custom path names one API directly (openai.go `isDirectPath`).
fn is_direct_path(path: &str) -> bool {
    [
        "/completions",
        "/embeddings",
        "/audio/speech",
        "/audio/transcriptions",
        "/audio/translations",
        "/images/generations",
        "/images/variations",
        "/images/edits",
        "/models",
        "/responses",
        "/fine_tuning/jobs",
        "/fine_tuning/checkpoints",
        "/realtime",
        "/videos",
    ]
    .iter()
    .any(|suffix| path.ends_with(suffix))
}

/// The `openai` provider.
#[derive(Debug)]
pub(crate) struct OpenAi {
    config: ProviderConfig,
    capabilities: Capabilities,
    domain: String,
    /// A custom path that names one API: every request goes there.
    direct_path: Option<String>,
}

impl OpenAi {
    /// Builds it (no required keys).
    pub(crate) fn build(config: ProviderConfig) -> Result<Self, ConfigError> {
        let custom = config.string("openaiCustomUrl");
        let mut capabilities = api::capabilities(OPENAI_CAPABILITIES);
        let (domain, direct_path) = if custom.is_empty() {
            ("api.openai.com".to_string(), None)
        } else {
            let without_scheme = custom.trim_start_matches("http://").trim_start_matches("https://");
            let (domain, path) = match without_scheme.split_once('/') {
                Some((domain, rest)) => (domain.to_string(), format!("/{rest}")),
                None => (without_scheme.to_string(), "/".to_string()),
            };
            if is_direct_path(&path) {
                (domain, Some(path))
            } else {
                for value in capabilities.values_mut() {
                    *value = join_path(&path, value.strip_prefix("/v1").unwrap_or(value));
                }
                (domain, None)
            }
        };
        capabilities.extend(config.capabilities.clone());
        Ok(Self { config, capabilities, domain, direct_path })
    }

    /// The token to send: the configured one, else the client's (`authHeaderKey`, `x-api-key`,
    /// `x-authorization`, then `Authorization` without its `Bearer `).
    fn token(&self, call: &Call, request: &RequestView<'_>) -> String {
        if !self.config.api_tokens.is_empty() {
            return call.token.clone();
        }
        let mut names = Vec::new();
        if !self.config.auth_header_key.is_empty() {
            names.push(self.config.auth_header_key.as_str());
        }
        names.extend(["x-api-key", "x-authorization"]);
        if let Some(token) = names.into_iter().filter_map(|n| header(request, n)).find(|v| !v.is_empty()) {
            return token.to_string();
        }
        header(request, "authorization").map(|a| a.strip_prefix("Bearer ").unwrap_or(a).to_string()).unwrap_or_default()
    }
}

impl Provider for OpenAi {
    fn kind(&self) -> &'static str {
        "openai"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>) {
        match &self.direct_path {
            Some(path) => up.path = path.clone(),
            None => set_capability_path(self, call, up),
        }
        up.host = self.domain.clone();
        let token = self.token(call, request);
        if !token.is_empty() {
            let value = if token.starts_with("Bearer ") { token } else { format!("Bearer {token}") };
            up.set("authorization", value);
        }
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        if !needs_body(call.api) {
            return Ok(Body::Keep);
        }
        handle_request_body(self, call, up, request, body)
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        let mut body = body.to_string();
        if let Some(schema) = self.config.raw.get("responseJsonSchema").filter(|s| s.is_object()) {
            body = super::super::json::set_raw(&body, &["response_format"], &super::super::json::go_string(schema)).unwrap_or(body);
        }
        super::super::provider::default_transform(&self.config, call, up, &body)
    }
}

/// The `generic` provider.
#[derive(Debug)]
pub(crate) struct Generic {
    config: ProviderConfig,
    capabilities: Capabilities,
}

impl Generic {
    /// Builds it (no required keys).
    pub(crate) fn build(config: ProviderConfig) -> Self {
        let capabilities = config.capabilities.clone();
        Self { config, capabilities }
    }
}

impl Provider for Generic {
    fn kind(&self) -> &'static str {
        "generic"
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        if !call.token.is_empty() {
            up.set("authorization", format!("Bearer {}", call.token));
        }
        let host = self.config.string("genericHost");
        if !host.is_empty() {
            up.host = host;
        }
        if self.config.first_byte_timeout_ms > 0 {
            up.set("x-envoy-upstream-rq-first-byte-timeout-ms", self.config.first_byte_timeout_ms.to_string());
        }
    }

    fn request_body(&self, _call: &mut Call, _up: &mut Upstream, _request: &RequestView<'_>, body: &[u8]) -> Result<Body, AiError> {
        // why: generic.go replaces the body with itself after customSettings (no model mapping).
        Ok(Body::Replace(body.to_vec()))
    }
}
