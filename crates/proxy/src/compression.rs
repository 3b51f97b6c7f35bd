//! Gzip response compression from the gateway ConfigMap (`gzip`), with Envoy's compressor-filter rules
//! (what Higress configures): the client accepts `gzip` (or `*`) with a non-zero q, the response has no
//! `Content-Encoding`, no `Cache-Control: no-transform`, a listed media type (or none), a body (not HEAD,
//! 204, 304) and a `Content-Length` of at least `minContentLength` (or none: streamed), and, with
//! `disableOnEtagHeader`, no `ETag` (else a strong `ETag` is weakened). The body is compressed chunk by
//! chunk, each chunk flushed, so streamed responses keep streaming.

use std::io::Write;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, TRANSFER_ENCODING, VARY};
use oxigress_ir::Gzip;
use pingora::http::{RequestHeader, ResponseHeader};

/// The compiled `gzip` settings; absent when compression is off.
#[derive(Debug)]
pub struct GzipPolicy {
    min_content_length: u64,
    content_types: Vec<String>,
    disable_on_etag: bool,
    level: u32,
}

impl GzipPolicy {
    /// `None` when `gzip.enable` is false.
    pub fn compile(gzip: &Gzip) -> Option<Self> {
        gzip.enable.then(|| Self {
            min_content_length: gzip.min_content_length.into(),
            content_types: gzip.content_type.clone(),
            disable_on_etag: gzip.disable_on_etag_header,
            level: gzip.level.clamp(1, 9),
        })
    }

    /// Starts compressing `response` to the request `request` when the rules allow it, adjusting the
    /// response headers; `None` when it goes out as it is.
    pub fn start(&self, request: &RequestHeader, response: &mut ResponseHeader) -> pingora::Result<Option<GzipStream>> {
        if !accepts_gzip(request) || !self.compressible(request, response) {
            return Ok(None);
        }
        if let Some(etag) = response.headers.get(ETAG) {
            if !etag.as_bytes().starts_with(b"W/") {
                let mut weak = b"W/".to_vec();
                weak.extend_from_slice(etag.as_bytes());
                let weak = http::HeaderValue::from_bytes(&weak)
                    .map_err(|e| pingora::Error::explain(pingora::ErrorType::InternalError, e.to_string()))?;
                response.insert_header(ETAG, weak)?;
            }
        }
        response.remove_header(&CONTENT_LENGTH);
        response.insert_header(CONTENT_ENCODING, "gzip")?;
        response.append_header(VARY, "Accept-Encoding")?;
        if request.version == http::Version::HTTP_11 {
            response.insert_header(TRANSFER_ENCODING, "chunked")?;
        }
        Ok(Some(GzipStream { encoder: Some(GzEncoder::new(Vec::new(), Compression::new(self.level))) }))
    }

    fn compressible(&self, request: &RequestHeader, response: &ResponseHeader) -> bool {
        let headers = &response.headers;
        if request.method == http::Method::HEAD || matches!(response.status.as_u16(), 100..=199 | 204 | 304) {
            return false;
        }
        if headers.get(CONTENT_ENCODING).is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity")) {
            return false;
        }
        if headers.get_all(CACHE_CONTROL).iter().any(|v| contains_token(v.as_bytes(), b"no-transform")) {
            return false;
        }
        if self.disable_on_etag && headers.contains_key(ETAG) {
            return false;
        }
        if let Some(length) = headers.get(CONTENT_LENGTH) {
            let length = std::str::from_utf8(length.as_bytes()).ok().and_then(|l| l.trim().parse::<u64>().ok());
            if length.is_none_or(|l| l < self.min_content_length) {
                return false;
            }
        }
        match headers.get(CONTENT_TYPE).and_then(|t| t.to_str().ok()) {
            None => true,
            Some(value) => {
                let media = value.split(';').next().unwrap_or("").trim();
                self.content_types.iter().any(|t| t.eq_ignore_ascii_case(media))
            }
        }
    }
}

/// One response's compressor.
pub struct GzipStream {
    encoder: Option<GzEncoder<Vec<u8>>>,
}

impl GzipStream {
    /// Compresses the next chunk (flushed, so it can go out now); at the end, the gzip trailer too.
    /// `None` when there is nothing to send yet.
    pub fn chunk(&mut self, data: Option<&[u8]>, end: bool) -> Option<Bytes> {
        let encoder = self.encoder.as_mut()?;
        let written = match data {
            Some(data) if !data.is_empty() => encoder.write_all(data).and_then(|()| encoder.flush()),
            _ => Ok(()),
        };
        if written.is_err() {
            // Writing into a Vec does not fail; should it, the stream ends here.
            self.encoder = None;
            return None;
        }
        if end {
            return self.encoder.take().and_then(|e| e.finish().ok()).map(Bytes::from);
        }
        let out = std::mem::take(encoder.get_mut());
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}

/// Whether `Accept-Encoding` takes gzip: `gzip` with q > 0, else `*` with q > 0.
fn accepts_gzip(request: &RequestHeader) -> bool {
    let mut star = None;
    for value in request.headers.get_all(http::header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for entry in value.split(',') {
            let mut parts = entry.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
            if coding.eq_ignore_ascii_case("gzip") {
                return q > 0.0;
            }
            if coding == "*" {
                star = Some(q > 0.0);
            }
        }
    }
    star.unwrap_or(false)
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value.split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests;
