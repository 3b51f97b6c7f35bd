//! Token usage read from what goes to the client, for metrics: the last `usage` of an SSE stream (OpenAI
//! `prompt_tokens`/`completion_tokens`; DashScope/Anthropic `input_tokens`/`output_tokens`; Gemini
//! `usageMetadata`) or of a JSON body (bounded: a larger body is not inspected). Nothing is held back.

use serde_json::Value;

use super::sse::EventParser;

/// Largest JSON body inspected.
const MAX_JSON: usize = 4 * 1024 * 1024;

/// Collects usage from a response.
#[derive(Debug)]
pub(crate) enum UsageReader {
    /// An SSE stream.
    Events(EventParser),
    /// A JSON body so far (`None` once too large).
    Json(Option<Vec<u8>>),
}

impl UsageReader {
    /// A reader for a response with `content_type`.
    pub(crate) fn new(content_type: &str) -> Self {
        if content_type.starts_with("text/event-stream") {
            Self::Events(EventParser::default())
        } else {
            Self::Json(Some(Vec::new()))
        }
    }

    /// Reads `chunk`; returns `(prompt, completion)` tokens when a usage was seen.
    pub(crate) fn push(&mut self, chunk: &[u8], end: bool) -> Option<(u64, u64)> {
        match self {
            Self::Events(parser) => {
                let mut found = None;
                for event in parser.push(chunk) {
                    if event.data.contains("sage") {
                        if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                            found = tokens(&value).or(found);
                        }
                    }
                }
                found
            }
            Self::Json(buffer) => {
                if let Some(body) = buffer {
                    body.extend_from_slice(chunk);
                    if body.len() > MAX_JSON {
                        *buffer = None;
                    }
                }
                if !end {
                    return None;
                }
                let body = buffer.take()?;
                serde_json::from_slice::<Value>(&body).ok().as_ref().and_then(tokens)
            }
        }
    }
}

/// `(prompt, completion)` of a response object, if it reports any.
fn tokens(value: &Value) -> Option<(u64, u64)> {
    let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        let prompt = count(usage, "prompt_tokens").or_else(|| count(usage, "input_tokens"));
        let completion = count(usage, "completion_tokens").or_else(|| count(usage, "output_tokens"));
        if prompt.is_some() || completion.is_some() {
            return Some((prompt.unwrap_or(0), completion.unwrap_or(0)));
        }
    }
    let usage = value.get("usageMetadata").filter(|u| u.is_object())?;
    Some((count(usage, "promptTokenCount").unwrap_or(0), count(usage, "candidatesTokenCount").unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stream_and_json_usage() {
        let mut stream = UsageReader::new("text/event-stream");
        assert_eq!(stream.push(b"data: {\"choices\":[],\"usage\":null}\n\n", false), None);
        assert_eq!(stream.push(b"data: {\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n", true), Some((9, 1)));
        let mut json = UsageReader::new("application/json");
        assert_eq!(json.push(b"{\"usage\":{\"input_tokens\":3,", false), None);
        assert_eq!(json.push(b"\"output_tokens\":4}}", true), Some((3, 4)));
    }
}
