//! API names and paths: which OpenAI-style API a request path is (main.go `getApiName`: path **suffix**
//! first, then the retrieve/cancel/Gemini patterns), and how a provider's `capabilities` (API name →
//! path) rewrite it (util/http.go `MapRequestPathByCapability`).

use std::collections::BTreeMap;

/// An API name as Higress spells it (`openai/v1/chatcompletions`); also the keys of `capabilities`.
pub(crate) type ApiName = &'static str;

pub(crate) const CHAT_COMPLETION: ApiName = "openai/v1/chatcompletions";
pub(crate) const COMPLETION: ApiName = "openai/v1/completions";
pub(crate) const EMBEDDINGS: ApiName = "openai/v1/embeddings";
pub(crate) const IMAGE_GENERATION: ApiName = "openai/v1/imagegeneration";
pub(crate) const IMAGE_EDIT: ApiName = "openai/v1/imageedit";
pub(crate) const IMAGE_VARIATION: ApiName = "openai/v1/imagevariation";
pub(crate) const AUDIO_SPEECH: ApiName = "openai/v1/audiospeech";
pub(crate) const AUDIO_TRANSCRIPTION: ApiName = "openai/v1/audiotranscription";
pub(crate) const AUDIO_TRANSLATION: ApiName = "openai/v1/audiotranslation";
pub(crate) const REALTIME: ApiName = "openai/v1/realtime";
pub(crate) const FILES: ApiName = "openai/v1/files";
pub(crate) const RETRIEVE_FILE: ApiName = "openai/v1/retrievefile";
pub(crate) const RETRIEVE_FILE_CONTENT: ApiName = "openai/v1/retrievefilecontent";
pub(crate) const BATCHES: ApiName = "openai/v1/batches";
pub(crate) const RETRIEVE_BATCH: ApiName = "openai/v1/retrievebatch";
pub(crate) const CANCEL_BATCH: ApiName = "openai/v1/cancelbatch";
pub(crate) const MODELS: ApiName = "openai/v1/models";
pub(crate) const RESPONSES: ApiName = "openai/v1/responses";
pub(crate) const FINE_TUNING_JOBS: ApiName = "openai/v1/fine-tuningjobs";
pub(crate) const RETRIEVE_FINE_TUNING_JOB: ApiName = "openai/v1/retrievefine-tuningjob";
pub(crate) const FINE_TUNING_JOB_EVENTS: ApiName = "openai/v1/fine-tuningjobsevents";
pub(crate) const FINE_TUNING_JOB_CHECKPOINTS: ApiName = "openai/v1/fine-tuningjobcheckpoints";
pub(crate) const CANCEL_FINE_TUNING_JOB: ApiName = "openai/v1/cancelfine-tuningjob";
pub(crate) const RESUME_FINE_TUNING_JOB: ApiName = "openai/v1/resumefine-tuningjob";
pub(crate) const PAUSE_FINE_TUNING_JOB: ApiName = "openai/v1/pausefine-tuningjob";
pub(crate) const FINE_TUNING_CHECKPOINT_PERMISSIONS: ApiName = "openai/v1/fine-tuningjobcheckpointpermissions";
pub(crate) const DELETE_FINE_TUNING_CHECKPOINT_PERMISSION: ApiName = "openai/v1/deletefine-tuningjobcheckpointpermission";
pub(crate) const VIDEOS: ApiName = "openai/v1/videos";
pub(crate) const RETRIEVE_VIDEO: ApiName = "openai/v1/retrievevideo";
pub(crate) const VIDEO_REMIX: ApiName = "openai/v1/videoremix";
pub(crate) const RETRIEVE_VIDEO_CONTENT: ApiName = "openai/v1/retrievevideocontent";
pub(crate) const COHERE_RERANK: ApiName = "cohere/v1/rerank";
pub(crate) const QWEN_ASYNC_AIGC: ApiName = "qwen/v1/services/aigc";
pub(crate) const QWEN_ASYNC_TASK: ApiName = "qwen/v1/tasks";
pub(crate) const QWEN_RERANK: ApiName = "qwen/v1/rerank";
pub(crate) const QWEN_CONVERSATIONS: ApiName = "qwen/v1/conversations";
pub(crate) const GEMINI_GENERATE_CONTENT: ApiName = "gemini/v1beta/generatecontent";
pub(crate) const GEMINI_STREAM_GENERATE_CONTENT: ApiName = "gemini/v1beta/streamgeneratecontent";
pub(crate) const ANTHROPIC_MESSAGES: ApiName = "anthropic/v1/messages";
pub(crate) const ANTHROPIC_COMPLETE: ApiName = "anthropic/v1/complete";

pub(crate) const PATH_CHAT_COMPLETIONS: &str = "/v1/chat/completions";
pub(crate) const PATH_COMPLETIONS: &str = "/v1/completions";
pub(crate) const PATH_EMBEDDINGS: &str = "/v1/embeddings";
pub(crate) const PATH_MODELS: &str = "/v1/models";
pub(crate) const PATH_ANTHROPIC_MESSAGES: &str = "/v1/messages";
pub(crate) const PATH_ANTHROPIC_COMPLETE: &str = "/v1/complete";

/// Path suffix → API name, tried in this order.
const SUFFIXES: &[(&str, ApiName)] = &[
    (PATH_CHAT_COMPLETIONS, CHAT_COMPLETION),
    (PATH_COMPLETIONS, COMPLETION),
    (PATH_EMBEDDINGS, EMBEDDINGS),
    ("/v1/audio/speech", AUDIO_SPEECH),
    ("/v1/audio/transcriptions", AUDIO_TRANSCRIPTION),
    ("/v1/audio/translations", AUDIO_TRANSLATION),
    ("/v1/realtime", REALTIME),
    ("/v1/images/generations", IMAGE_GENERATION),
    ("/v1/images/variations", IMAGE_VARIATION),
    ("/v1/images/edits", IMAGE_EDIT),
    ("/v1/batches", BATCHES),
    ("/v1/files", FILES),
    (PATH_MODELS, MODELS),
    ("/v1/fine_tuning/jobs", FINE_TUNING_JOBS),
    ("/v1/responses", RESPONSES),
    ("/v1/videos", VIDEOS),
    (PATH_ANTHROPIC_MESSAGES, ANTHROPIC_MESSAGES),
    (PATH_ANTHROPIC_COMPLETE, ANTHROPIC_COMPLETE),
    ("/v1/rerank", COHERE_RERANK),
    ("/v1/reranks", QWEN_RERANK),
    ("/v1/conversations", QWEN_CONVERSATIONS),
];

/// `…/<prefix>/{id}<suffix>` patterns (Higress's `^.*/v1/…/(?P<id>[^/]+)…$` regexes), in order.
const ID_PATTERNS: &[(&str, &str, ApiName)] = &[
    ("/v1/batches/", "", RETRIEVE_BATCH),
    ("/v1/batches/", "/cancel", CANCEL_BATCH),
    ("/v1/files/", "", RETRIEVE_FILE),
    ("/v1/files/", "/content", RETRIEVE_FILE_CONTENT),
    ("/v1/videos/", "", RETRIEVE_VIDEO),
    ("/v1/videos/", "/content", RETRIEVE_VIDEO_CONTENT),
    ("/v1/videos/", "/remix", VIDEO_REMIX),
    ("/v1/fine_tuning/jobs/", "", RETRIEVE_FINE_TUNING_JOB),
    ("/v1/fine_tuning/jobs/", "/events", FINE_TUNING_JOB_EVENTS),
    ("/v1/fine_tuning/jobs/", "/checkpoints", FINE_TUNING_JOB_CHECKPOINTS),
    ("/v1/fine_tuning/jobs/", "/cancel", CANCEL_FINE_TUNING_JOB),
    ("/v1/fine_tuning/jobs/", "/resume", RESUME_FINE_TUNING_JOB),
    ("/v1/fine_tuning/jobs/", "/pause", PAUSE_FINE_TUNING_JOB),
    ("/v1/fine_tuning/checkpoints/", "/permissions", FINE_TUNING_CHECKPOINT_PERMISSIONS),
];

/// The API a request path (without query) is, if any.
pub(crate) fn api_name(path: &str) -> Option<ApiName> {
    if let Some((_, api)) = SUFFIXES.iter().find(|(suffix, _)| path.ends_with(suffix)) {
        return Some(api);
    }
    if let Some((_, _, api)) = ID_PATTERNS.iter().find(|(prefix, suffix, _)| id_in(path, prefix, suffix).is_some()) {
        return Some(api);
    }
    if delete_permission(path) {
        return Some(DELETE_FINE_TUNING_CHECKPOINT_PERMISSION);
    }
    if gemini_action(path, ":generateContent") {
        return Some(GEMINI_GENERATE_CONTENT);
    }
    if gemini_action(path, ":streamGenerateContent") {
        return Some(GEMINI_STREAM_GENERATE_CONTENT);
    }
    None
}

/// The `{id}` of `…<prefix>{id}<suffix>` (the last `prefix`, as the greedy `^.*` finds it): non-empty,
/// without `/`.
pub(crate) fn id_in<'a>(path: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    let rest = path.strip_suffix(suffix)?;
    let start = rest.rfind(prefix)? + prefix.len();
    let id = &rest[start..];
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// `…/v1/fine_tuning/checkpoints/{ckpt}/permissions/{id}`.
fn delete_permission(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(head, id)| !id.is_empty() && head.ends_with("/permissions") && id_in(head, "/v1/fine_tuning/checkpoints/", "/permissions").is_some())
}

/// `…/{version}/models/{model}:<action>…` (Higress's Gemini regexes).
fn gemini_action(path: &str, action: &str) -> bool {
    let Some(at) = path.find(action) else {
        return false;
    };
    let head = &path[..at];
    let Some(models) = head.rfind("/models/") else {
        return false;
    };
    let model = &head[models + "/models/".len()..];
    let version = head[..models].rsplit('/').next().unwrap_or("");
    !model.is_empty() && !model.contains(':') && !version.is_empty()
}

/// Capabilities: API name → upstream path (may hold `{file_id}`-style placeholders and a query).
pub(crate) type Capabilities = BTreeMap<String, String>;

/// Builds capabilities from `(api, path)` pairs.
pub(crate) fn capabilities(entries: &[(ApiName, &str)]) -> Capabilities {
    entries.iter().map(|(api, path)| (api.to_string(), path.to_string())).collect()
}

/// The path `api` maps to for a request to `original` (path and query): placeholders filled from the
/// original path, the original query kept. `None` when the provider has no such capability.
pub(crate) fn map_path(api: ApiName, original: &str, capabilities: &Capabilities) -> Option<String> {
    let mapped = capabilities.get(api)?;
    let (mapped_path, mapped_query) = split_query(mapped);
    let (path_only, query) = split_query(original);
    let mut path = mapped_path.to_string();
    if mapped.contains('{') && mapped.contains('}') {
        for (prefix, suffix, key) in [
            ("/v1/files/", "", "file_id"),
            ("/v1/files/", "/content", "file_id"),
            ("/v1/batches/", "", "batch_id"),
            ("/v1/batches/", "/cancel", "batch_id"),
            ("/v1/videos/", "", "video_id"),
            ("/v1/videos/", "/content", "video_id"),
            ("/v1/videos/", "/remix", "video_id"),
        ] {
            if let Some(id) = id_in(path_only, prefix, suffix) {
                path = path.replacen(&format!("{{{key}}}"), id, 1);
            }
        }
    }
    let mut out = path;
    if let Some(q) = mapped_query {
        out.push('?');
        out.push_str(q);
    }
    if let Some(q) = query {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(q);
    }
    Some(out)
}

/// `(path, query)` of a request target.
pub(crate) fn split_query(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_by_suffix_then_pattern() {
        assert_eq!(api_name("/v1/chat/completions"), Some(CHAT_COMPLETION));
        assert_eq!(api_name("/openai/v1/chat/completions"), Some(CHAT_COMPLETION));
        assert_eq!(api_name("/v1/completions"), Some(COMPLETION));
        assert_eq!(api_name("/v1/embeddings"), Some(EMBEDDINGS));
        assert_eq!(api_name("/v1/models"), Some(MODELS));
        assert_eq!(api_name("/v1/files/file-1/content"), Some(RETRIEVE_FILE_CONTENT));
        assert_eq!(api_name("/v1/batches/b1/cancel"), Some(CANCEL_BATCH));
        assert_eq!(api_name("/v1/fine_tuning/checkpoints/c/permissions/p"), Some(DELETE_FINE_TUNING_CHECKPOINT_PERMISSION));
        assert_eq!(api_name("/v1beta/models/gemini-pro:generateContent"), Some(GEMINI_GENERATE_CONTENT));
        assert_eq!(api_name("/v1beta/models/gemini-pro:streamGenerateContent"), Some(GEMINI_STREAM_GENERATE_CONTENT));
        assert_eq!(api_name("/v1/messages"), Some(ANTHROPIC_MESSAGES));
        assert_eq!(api_name("/api/unknown"), None);
    }

    #[test]
    fn capability_paths_keep_ids_and_query() {
        let caps = capabilities(&[
            (CHAT_COMPLETION, "/compatible-mode/v1/chat/completions"),
            (RETRIEVE_FILE_CONTENT, "/compatible-mode/v1/files/{file_id}/content"),
            (COMPLETION, "/x?api-version=1"),
        ]);
        assert_eq!(map_path(CHAT_COMPLETION, "/v1/chat/completions?a=b", &caps).as_deref(), Some("/compatible-mode/v1/chat/completions?a=b"));
        assert_eq!(map_path(RETRIEVE_FILE_CONTENT, "/v1/files/f-9/content", &caps).as_deref(), Some("/compatible-mode/v1/files/f-9/content"));
        assert_eq!(map_path(COMPLETION, "/v1/completions?x=1", &caps).as_deref(), Some("/x?api-version=1&x=1"));
        assert_eq!(map_path(EMBEDDINGS, "/v1/embeddings", &caps), None);
    }
}
