//! Providers that speak OpenAI's API at their own host (one Go file each in Higress: ai360.go,
//! baichuan.go, baidu.go, cloudflare.go, deepseek.go, doubao.go, fireworks.go, github.go, groq.go,
//! grok.go, mistral.go, moonshot.go, ollama.go, stepfun.go, together_ai.go, yi.go, zhipuai.go): the
//! host, the credential header, the path per API, and small body tweaks. Bodies only get the model
//! mapped, answers pass through unchanged (moonshot moves a stream's `choices[0].usage` up to `usage`).

use serde_json::Value;

use super::super::api::{self, ApiName, Capabilities};
use super::super::config::ProviderConfig;
use super::super::json;
use super::super::provider::{default_transform, set_capability_path, AiError, Call, Provider, StreamConverter, Upstream};
use super::super::sse::{Event, EventParser};
use crate::{ConfigError, RequestView};

/// How the token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: <token>`.
    Raw,
    /// No credentials (ollama).
    None,
}

/// How the path is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathRule {
    /// By capability.
    Capability,
    /// Never (mistral).
    Keep,
    /// Cloudflare's fixed path with the account id.
    Cloudflare,
}

/// One provider of the family.
#[derive(Debug)]
struct Spec {
    kind: &'static str,
    domain: &'static str,
    /// A configuration key overriding the domain (`doubaoDomain`).
    domain_key: Option<&'static str>,
    auth: Auth,
    path: PathRule,
    capabilities: &'static [(ApiName, &'static str)],
    /// `GetApiName` under `protocol: original`: path substring → API (empty: none).
    original: &'static [(&'static str, ApiName)],
    /// `apiTokens` must not be empty.
    needs_token: bool,
}

const CHAT: (ApiName, &str) = (api::CHAT_COMPLETION, api::PATH_CHAT_COMPLETIONS);
const EMBED: (ApiName, &str) = (api::EMBEDDINGS, api::PATH_EMBEDDINGS);
const MODELS: (ApiName, &str) = (api::MODELS, api::PATH_MODELS);

const SPECS: &[Spec] = &[
    Spec { kind: "ai360", domain: "api.360.cn", domain_key: None, auth: Auth::Raw, path: PathRule::Capability, capabilities: &[CHAT, EMBED], original: &[], needs_token: true },
    Spec { kind: "baichuan", domain: "api.baichuan-ai.com", domain_key: None, auth: Auth::Bearer, path: PathRule::Capability, capabilities: &[CHAT, EMBED], original: &[], needs_token: true },
    Spec {
        kind: "baidu",
        domain: "qianfan.baidubce.com",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[(api::CHAT_COMPLETION, "/v2/chat/completions"), (api::EMBEDDINGS, "/v2/embeddings")],
        original: &[("/v2/chat/completions", api::CHAT_COMPLETION)],
        needs_token: true,
    },
    Spec {
        kind: "cloudflare",
        domain: "api.cloudflare.com",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Cloudflare,
        capabilities: &[(api::CHAT_COMPLETION, "/client/v4/accounts/{account_id}/ai/v1/chat/completions")],
        original: &[],
        needs_token: true,
    },
    Spec {
        kind: "deepseek",
        domain: "api.deepseek.com",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[CHAT, MODELS, (api::ANTHROPIC_MESSAGES, "/anthropic/v1/messages")],
        original: &[],
        needs_token: true,
    },
    Spec {
        kind: "doubao",
        domain: "ark.cn-beijing.volces.com",
        domain_key: Some("doubaoDomain"),
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[
            (api::CHAT_COMPLETION, "/api/v3/chat/completions"),
            (api::EMBEDDINGS, "/api/v3/embeddings"),
            (api::IMAGE_GENERATION, "/api/v3/images/generations"),
            (api::RESPONSES, "/api/v3/responses"),
        ],
        original: &[
            ("/api/v3/chat/completions", api::CHAT_COMPLETION),
            ("/api/v3/embeddings", api::EMBEDDINGS),
            ("/api/v3/images/generations", api::IMAGE_GENERATION),
            ("/api/v3/responses", api::RESPONSES),
        ],
        needs_token: true,
    },
    Spec {
        kind: "fireworks",
        domain: "api.fireworks.ai",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[CHAT, (api::COMPLETION, api::PATH_COMPLETIONS), MODELS],
        original: &[(api::PATH_CHAT_COMPLETIONS, api::CHAT_COMPLETION), (api::PATH_COMPLETIONS, api::COMPLETION), (api::PATH_MODELS, api::MODELS)],
        needs_token: true,
    },
    Spec {
        kind: "github",
        domain: "models.inference.ai.azure.com",
        domain_key: None,
        auth: Auth::Raw,
        path: PathRule::Capability,
        capabilities: &[(api::CHAT_COMPLETION, "/chat/completions"), (api::EMBEDDINGS, "/embeddings")],
        original: &[("/chat/completions", api::CHAT_COMPLETION), ("/embeddings", api::EMBEDDINGS)],
        needs_token: true,
    },
    Spec {
        kind: "groq",
        domain: "api.groq.com",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[(api::CHAT_COMPLETION, "/openai/v1/chat/completions"), (api::RESPONSES, "/openai/v1/responses")],
        original: &[("/openai/v1/chat/completions", api::CHAT_COMPLETION)],
        needs_token: true,
    },
    Spec {
        kind: "grok",
        domain: "api.x.ai",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[CHAT],
        original: &[(api::PATH_CHAT_COMPLETIONS, api::CHAT_COMPLETION)],
        needs_token: true,
    },
    Spec { kind: "mistral", domain: "api.mistral.ai", domain_key: None, auth: Auth::Bearer, path: PathRule::Keep, capabilities: &[CHAT, EMBED], original: &[], needs_token: true },
    Spec { kind: "moonshot", domain: "api.moonshot.cn", domain_key: None, auth: Auth::Bearer, path: PathRule::Capability, capabilities: &[CHAT, MODELS], original: &[], needs_token: true },
    Spec { kind: "ollama", domain: "", domain_key: None, auth: Auth::None, path: PathRule::Capability, capabilities: &[CHAT, EMBED, MODELS], original: &[], needs_token: false },
    Spec { kind: "stepfun", domain: "api.stepfun.com", domain_key: None, auth: Auth::Bearer, path: PathRule::Capability, capabilities: &[CHAT], original: &[], needs_token: true },
    Spec {
        kind: "together-ai",
        domain: "api.together.xyz",
        domain_key: None,
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[CHAT],
        original: &[(api::PATH_CHAT_COMPLETIONS, api::CHAT_COMPLETION)],
        needs_token: true,
    },
    Spec { kind: "yi", domain: "api.lingyiwanwu.com", domain_key: None, auth: Auth::Bearer, path: PathRule::Capability, capabilities: &[CHAT], original: &[], needs_token: true },
    Spec {
        kind: "zhipuai",
        domain: "open.bigmodel.cn",
        domain_key: Some("zhipuDomain"),
        auth: Auth::Bearer,
        path: PathRule::Capability,
        capabilities: &[(api::CHAT_COMPLETION, "/api/paas/v4/chat/completions"), (api::EMBEDDINGS, "/api/paas/v4/embeddings")],
        original: &[
            ("/api/paas/v4/chat/completions", api::CHAT_COMPLETION),
            ("/api/coding/paas/v4/chat/completions", api::CHAT_COMPLETION),
            ("/api/paas/v4/embeddings", api::EMBEDDINGS),
            ("/api/anthropic/v1/messages", api::ANTHROPIC_MESSAGES),
        ],
        needs_token: true,
    },
];

/// Whether `kind` belongs to this family.
pub(crate) fn knows(kind: &str) -> bool {
    SPECS.iter().any(|s| s.kind == kind)
}

/// A provider of the family.
#[derive(Debug)]
pub(crate) struct Compatible {
    spec: &'static Spec,
    config: ProviderConfig,
    capabilities: Capabilities,
    host: String,
}

impl Compatible {
    /// Builds the provider `config.kind` (one [`knows`]).
    pub(crate) fn build(config: ProviderConfig, field: &str) -> Result<Self, ConfigError> {
        let Some(spec) = SPECS.iter().find(|s| s.kind == config.kind) else {
            return Err(ConfigError::new(format!("{field}.type"), "unknown provider type"));
        };
        if spec.needs_token {
            config.require_tokens(field)?;
        }
        let mut host = spec.domain_key.map(|k| config.string(k)).filter(|d| !d.is_empty()).unwrap_or_else(|| spec.domain.to_string());
        let mut capabilities = api::capabilities(spec.capabilities);
        match spec.kind {
            "ollama" => {
                let server = config.string("ollamaServerHost");
                if server.is_empty() {
                    return Err(ConfigError::new(format!("{field}.ollamaServerHost"), "missing ollamaServerHost in provider config"));
                }
                let port = config.int("ollamaServerPort");
                if port <= 0 {
                    return Err(ConfigError::new(format!("{field}.ollamaServerPort"), "missing ollamaServerPort in provider config"));
                }
                host = format!("{server}:{port}");
            }
            "zhipuai" if config.flag("zhipuCodePlanMode") => {
                capabilities.insert(api::CHAT_COMPLETION.into(), "/api/coding/paas/v4/chat/completions".into());
            }
            "moonshot" if !config.string("moonshotFileId").is_empty() => {
                // why: Higress fetches the file from Moonshot per request; not supported yet.
                return Err(ConfigError::new(format!("{field}.moonshotFileId"), "moonshotFileId is not supported by oxigress yet"));
            }
            _ => {}
        }
        capabilities.extend(config.capabilities.clone());
        Ok(Self { spec, config, capabilities, host })
    }
}

impl Provider for Compatible {
    fn kind(&self) -> &'static str {
        self.spec.kind
    }

    fn config(&self) -> &ProviderConfig {
        &self.config
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn original_api_name(&self, path: &str, generic: Option<ApiName>) -> Option<ApiName> {
        if self.spec.original.is_empty() {
            return generic;
        }
        self.spec.original.iter().find(|(part, _)| path.contains(part)).map(|(_, api)| *api)
    }

    fn credentials(&self, token: &str) -> Vec<(&'static str, String)> {
        match self.spec.auth {
            Auth::Bearer => vec![("authorization", format!("Bearer {token}"))],
            Auth::Raw => vec![("authorization", token.to_string())],
            Auth::None => Vec::new(),
        }
    }

    fn request_headers(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>) {
        match self.spec.path {
            PathRule::Capability => set_capability_path(self, call, up),
            PathRule::Keep => {}
            PathRule::Cloudflare => {
                // why: Higress substitutes the account id even when it is not configured (empty segment).
                up.path = "/client/v4/accounts/{account_id}/ai/v1/chat/completions".replacen("{account_id}", &self.config.string("cloudflareAccountId"), 1);
            }
        }
        up.host = self.host.clone();
        for (name, value) in self.credentials(&call.token) {
            up.set(name, value);
        }
    }

    fn request_body(&self, call: &mut Call, up: &mut Upstream, request: &RequestView<'_>, body: &[u8]) -> Result<super::super::provider::Body, AiError> {
        if !self.supports(call.api) {
            if self.spec.kind == "ollama" {
                // why: ollama lets other APIs through untouched (ollama.go OnRequestBody).
                return Ok(super::super::provider::Body::Keep);
            }
            return Err(AiError::unsupported(call.api, self.kind()));
        }
        super::super::provider::handle_request_body(self, call, up, request, body)
    }

    fn transform_body(&self, call: &mut Call, up: &mut Upstream, _request: &RequestView<'_>, body: &str) -> Result<String, AiError> {
        let mut body = body.to_string();
        match (self.spec.kind, call.api) {
            ("doubao", Some(api::RESPONSES)) => {
                for param in ["parallel_tool_calls", "tool_choice"] {
                    body = json::delete(&body, param).unwrap_or(body);
                }
            }
            ("doubao", Some(api::IMAGE_GENERATION)) if json::get_raw(&body, &["watermark"]).is_none() => {
                body = json::set_raw(&body, &["watermark"], "false").unwrap_or(body);
            }
            ("zhipuai", Some(api::CHAT_COMPLETION)) => {
                let effort = json::get_raw(&body, &["reasoning_effort"]).and_then(|r| serde_json::from_str::<Value>(r).ok());
                if effort.as_ref().and_then(Value::as_str).is_some_and(|e| !e.is_empty()) {
                    body = json::set_raw(&body, &["thinking"], r#"{"type":"enabled"}"#).unwrap_or(body);
                    body = json::delete(&body, "reasoning_effort").unwrap_or(body);
                }
            }
            _ => {}
        }
        default_transform(&self.config, call, up, &body)
    }

    fn converts_response(&self, call: &Call) -> bool {
        self.spec.kind == "moonshot" && call.api == Some(api::CHAT_COMPLETION)
    }

    fn stream_converter(&self, _call: &Call) -> Option<Box<dyn StreamConverter>> {
        (self.spec.kind == "moonshot").then(|| Box::new(MoonshotUsage::default()) as Box<dyn StreamConverter>)
    }
}

/// moonshot.go `OnStreamingEvent`: a chunk's `choices[0].usage` becomes the top-level `usage`.
#[derive(Debug, Default)]
struct MoonshotUsage {
    events: EventParser,
}

impl StreamConverter for MoonshotUsage {
    fn push(&mut self, _call: &Call, chunk: &[u8], end: bool) -> Vec<u8> {
        let mut out = String::new();
        for event in self.events.push(chunk) {
            if event.is_done() {
                out.push_str(&Event::to_http(&event.data));
                continue;
            }
            match move_usage(&event.data) {
                Some(data) => out.push_str(&Event::to_http(&data)),
                None => out.push_str(&Event::to_http(&event.data)),
            }
        }
        let mut out = out.into_bytes();
        if end {
            out.extend(self.events.rest());
        }
        out
    }
}

/// `data` with `choices[0].usage` moved to `usage`, other bytes kept (None when there is none).
fn move_usage(data: &str) -> Option<String> {
    let choices = json::get_raw(data, &["choices"])?;
    let first = json::elements(choices)?.into_iter().next()?;
    let usage = json::get_raw(&choices[first.clone()], &["usage"])?.to_string();
    let without = json::delete(&choices[first.clone()], "usage")?;
    let choices = format!("{}{}{}", &choices[..first.start], without, &choices[first.end..]);
    let data = json::set_raw(data, &["choices"], &choices)?;
    json::set_raw(&data, &["usage"], &usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moonshot_usage_moves_up() {
        assert_eq!(
            move_usage(r#"{"id":"x","choices":[{"index":0,"usage":{"total_tokens":3},"delta":{}}]}"#).unwrap(),
            r#"{"id":"x","choices":[{"index":0,"delta":{}}],"usage":{"total_tokens":3}}"#
        );
        assert!(move_usage(r#"{"choices":[{"index":0}]}"#).is_none());
    }
}
