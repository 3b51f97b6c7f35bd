//! Server-sent events as the provider converters read them, across chunk boundaries.
//!
//! [`EventParser`] is Higress's `ExtractStreamingEvents` (provider.go): `\r\n`/`\r` become `\n`, an event
//! ends at a blank line, `name:value` lines set `id`/`event`/`data`/`:HTTP_STATUS/<code>` (a later `data`
//! line replaces an earlier one), and an unfinished event waits for the next chunk. [`LineSplitter`]
//! serves the converters Higress writes line by line (`minimax`, `dify`, `claude`, `gemini`); Higress
//! splits each chunk on its own and loses a line cut in two by the network, here the tail waits.

/// One complete event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Event {
    /// The event's text as received (normalised line ends), blank line included.
    pub raw: String,
    /// `id:`.
    pub id: String,
    /// `event:`.
    pub event: String,
    /// `data:` (the last one).
    pub data: String,
    /// From a `:HTTP_STATUS/<code>` comment (DashScope).
    pub http_status: String,
}

impl Event {
    /// `data: [DONE]`.
    pub(crate) fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// The event as Higress writes converted events: `data: <data>\n\n`.
    pub(crate) fn to_http(data: &str) -> String {
        format!("data: {data}\n\n")
    }
}

/// Collects events from chunks.
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    pending: Vec<u8>,
}

impl EventParser {
    /// The events completed by `chunk`.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.pending.extend_from_slice(chunk);
        // A trailing `\r` waits: it may be the first half of `\r\n`.
        let hold_cr = self.pending.last() == Some(&b'\r');
        let limit = self.pending.len() - usize::from(hold_cr);
        let mut text = Vec::with_capacity(limit);
        let mut i = 0;
        while i < limit {
            match self.pending[i] {
                b'\r' => {
                    text.push(b'\n');
                    if self.pending.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                b => text.push(b),
            }
            i += 1;
        }
        let mut events = Vec::new();
        let mut consumed = 0;
        let mut current = Event::default();
        let mut event_start: Option<usize> = None;
        let mut pos = 0;
        while let Some(newline) = text[pos..].iter().position(|b| *b == b'\n').map(|n| pos + n) {
            let line = String::from_utf8_lossy(&text[pos..newline]);
            if line.is_empty() {
                if let Some(start) = event_start.take() {
                    current.raw = String::from_utf8_lossy(&text[start..=newline]).into_owned();
                    events.push(std::mem::take(&mut current));
                }
                consumed = newline + 1;
            } else {
                event_start.get_or_insert(pos);
                if let Some((key, value)) = line.split_once(':') {
                    let value = value.trim_start_matches(' ');
                    match key {
                        "id" => current.id = value.to_string(),
                        "event" => current.event = value.to_string(),
                        "data" => current.data = value.to_string(),
                        "" => {
                            if let Some(code) = value.strip_prefix("HTTP_STATUS/") {
                                current.http_status = code.to_string();
                            }
                        }
                        _ => {}
                    }
                }
            }
            pos = newline + 1;
        }
        let mut rest = text.split_off(consumed);
        if hold_cr {
            rest.push(b'\r');
        }
        self.pending = rest;
        events
    }

    /// Whatever is left unfinished at the end of the stream.
    pub(crate) fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// Complete lines from chunks.
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// The lines (without `\n`) completed by `chunk`; at `end`, the unfinished tail too.
    pub(crate) fn push(&mut self, chunk: &[u8], end: bool) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(n) = self.pending[start..].iter().position(|b| *b == b'\n') {
            lines.push(String::from_utf8_lossy(&self.pending[start..start + n]).into_owned());
            start += n + 1;
        }
        self.pending.drain(..start);
        if end && !self.pending.is_empty() {
            lines.push(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned());
        }
        lines
    }

    /// The JSON of each line completed by `chunk` (at `end`, the tail too) after its 6-byte `data: `
    /// prefix, as Higress's providers read a stream (`line[6:]`); lines that are not JSON are skipped.
    pub(crate) fn push_data_json(&mut self, chunk: &[u8], end: bool) -> Vec<serde_json::Value> {
        self.push(chunk, end)
            .iter()
            .filter_map(|line| line.get(6..))
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_across_chunks() {
        let mut parser = EventParser::default();
        assert!(parser.push(b"event:result\r\n:HTTP_STATUS/200\r\ndata:{\"a\"").is_empty());
        let events = parser.push(b":1}\r\n\r\ndata: [DONE]\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].event.as_str(), events[0].http_status.as_str(), events[0].data.as_str()), ("result", "200", "{\"a\":1}"));
        assert_eq!(events[0].raw, "event:result\n:HTTP_STATUS/200\ndata:{\"a\":1}\n\n");
        assert!(events[1].is_done());
        assert!(parser.rest().is_empty());
    }

    #[test]
    fn lines_across_chunks() {
        let mut lines = LineSplitter::default();
        assert_eq!(lines.push(b"data: a\n\ndata: b", false), vec!["data: a", ""]);
        assert_eq!(lines.push(b"c\n", false), vec!["data: bc"]);
        assert_eq!(lines.push(b"tail", true), vec!["tail"]);
    }
}
