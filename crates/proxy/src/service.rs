//! The request path (pingora `ProxyHttp`): route match → plugin chain → upstream → access log and metrics.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use oxigress_plugins::{Decision, DirectResponse, Exchange, HeaderEdits, Plugin, RequestEdits, RequestView, ResponseEdits, ResponseView};
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType, Result};
use smallvec::SmallVec;

use crate::cluster::{hash_bytes, ActiveRequest, ClusterRuntime, HashSource, PickHint};
use crate::compression::GzipStream;
use crate::path_normalize::Normalized;
use crate::route_policy::{location, CorsVerdict};
use crate::router::{CompiledRoute, RequestFacts};
use crate::settings::SettingsRuntime;
use crate::state::{InFlight, ProxyState};

/// The `Server` header of every response.
const SERVER_NAME: &str = "oxigress";

/// `x-forwarded-for` (in error messages).
const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// `x-forwarded-for` to look up and set: a `HeaderName` is neither parsed nor copied per request (a
/// `&str` would be, on every lookup and insert).
const X_FORWARDED_FOR_NAME: http::HeaderName = http::HeaderName::from_static(X_FORWARDED_FOR);
/// `x-forwarded-proto`.
const X_FORWARDED_PROTO_NAME: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
/// `x-real-ip`.
const X_REAL_IP_NAME: http::HeaderName = http::HeaderName::from_static("x-real-ip");

/// The `ProxyHttp` of one listener (plain or TLS) of one instance.
pub struct GatewayProxy {
    state: Arc<ProxyState>,
    https: bool,
    splice: bool,
}

impl GatewayProxy {
    /// A proxy for `state`; `https` says whether the listener terminates TLS; `splice` whether a large
    /// response body nothing has to see may pass from the upstream's socket to the client's unread.
    pub fn new(state: Arc<ProxyState>, https: bool, splice: bool) -> Self {
        Self { state, https, splice }
    }
}

/// Per-request state.
pub struct RequestCtx {
    route: Option<Arc<CompiledRoute>>,
    /// The gateway settings of the snapshot the request was routed with.
    settings: Option<Arc<SettingsRuntime>>,
    /// The response body's compressor, when the response is compressed (boxed, as `response_body`:
    /// the context is moved a few times per request, and most requests use neither).
    gzip: Option<Box<GzipStream>>,
    cluster: Option<Arc<ClusterRuntime>>,
    upstream: Option<SocketAddr>,
    /// The endpoint (index in `cluster`) of the current attempt, and the ones tried (bit `index % 128`).
    endpoint: Option<usize>,
    tried: u128,
    /// The request's consistent-hash value, computed on the first attempt.
    hash: Option<u64>,
    /// The affinity cookie value to set on the response (a client that had none).
    set_cookie: Option<String>,
    /// The current attempt counts as a request in flight on its endpoint (least-request balancing).
    active: Option<ActiveRequest>,
    /// The upstream's answer status is retried (see `upstream_response_filter`).
    status_retry: bool,
    connect_attempts: usize,
    /// A body a plugin put in place of the upstream's.
    replacement_body: Option<Bytes>,
    body_replaced: bool,
    /// A request body a plugin put in place of the client's, and the connect attempt it was last sent on.
    request_body: Option<Bytes>,
    request_body_sent: usize,
    /// Plugins that asked for the whole upstream body, in chain order, with the body so far.
    response_body: Option<Box<ResponseBodyReaders>>,
    /// A plugin that reroutes edited the request: the route is chosen again after the chain.
    reroute: bool,
    /// CORS headers for the response (an allowed origin).
    cors: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The client's host, before plugins edited the request: the same plugins are selected for the
    /// response (set when the route has plugins).
    client_host: Option<String>,
    /// The client's path, kept when a plugin changes it: the access log shows what the client asked.
    client_path: Option<String>,
    /// Per plugin selected for the request (chain order), its per-request exchange, if it keeps one.
    exchanges: SmallVec<[Option<Box<dyn Exchange>>; 4]>,
    /// Exchanges that see the upstream body chunk by chunk, in response order: `(position, transforms)`.
    body_streams: Vec<(usize, bool)>,
    /// The request body was read (and kept for a resend) before the upstream was chosen.
    body_read: bool,
    /// An exchange asked to send the request again (see `upstream_response_filter`).
    plugin_retry: bool,
    /// The upstream's answer had a `custom-http-errors` status: the request went to the error fallback.
    fell_back: bool,
    /// An HTTP/1.0 request without `Host`: the upstream request (HTTP/1.1) gets the endpoint's address.
    host_absent: bool,
    /// The copy of this request for the route's mirror, waiting for the end of the body (boxed: only
    /// mirrored requests pay for its size).
    mirror: Option<Box<crate::mirror::MirrorCopy>>,
    /// When the first answer byte went downstream (LLM metrics).
    first_byte: Option<Instant>,
    start: Instant,
    _in_flight: InFlight,
}

impl ProxyHttp for GatewayProxy {
    type CTX = RequestCtx;

    /// No downstream modules: pingora's default adds a response-compression module that is disabled
    /// anyway, and would cost an allocation and five hook calls per request.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            route: None,
            settings: None,
            gzip: None,
            cluster: None,
            upstream: None,
            endpoint: None,
            tried: 0,
            hash: None,
            set_cookie: None,
            active: None,
            status_retry: false,
            connect_attempts: 0,
            replacement_body: None,
            body_replaced: false,
            request_body: None,
            request_body_sent: 0,
            response_body: None,
            reroute: false,
            cors: Vec::new(),
            client_host: None,
            client_path: None,
            exchanges: SmallVec::new(),
            body_streams: Vec::new(),
            body_read: false,
            plugin_retry: false,
            fell_back: false,
            host_absent: false,
            mirror: None,
            first_byte: None,
            start: Instant::now(),
            _in_flight: self.state.track_request(),
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        // One load per request: the route (and its clusters) come from one snapshot.
        let runtime = arc_swap::Guard::into_inner(self.state.runtime());
        let settings = runtime.settings.clone();
        if session.get_keepalive().is_some() {
            // Only bounds connections that are kept alive anyway (HTTP/1.1, or 1.0 asking for it).
            session.set_keepalive(Some(settings.keepalive_secs));
            // why: nginx and Envoy answer pipelined HTTP/1.1 requests in turn; pingora closes the
            // connection after the first and drops the rest unless this is on (kept across reuses).
            session.as_mut().set_pipelining_enabled(true);
        }
        let req = session.req_header();
        if head_size(req) > settings.max_request_headers {
            respond(session, 431, b"").await?;
            return Ok(true);
        }
        // A target neither origin-form (`/…`) nor absolute-form, `OPTIONS *` or CONNECT's authority (`GET
        // foo/../bar`, `GET *`): pingora would route it as `/` and send it upstream verbatim. nginx answers
        // 400 (RFC 9112 §3.2.4: the asterisk form is only for OPTIONS).
        let target = req.raw_path();
        if target.first() != Some(&b'/')
            && req.uri.scheme().is_none()
            && !(target == b"*" && req.method == http::Method::OPTIONS)
            && req.method != http::Method::CONNECT
        {
            reject_malformed(session).await?;
            return Ok(true);
        }
        // why: Envoy's `normalize_path` (on in Istio's, so Higress's, gateways): routes, plugins and the
        // upstream see `/public/../admin` as `/admin`.
        let normalized = match crate::path_normalize::normalize(req.uri.path()) {
            Normalized::Path(Cow::Borrowed(_)) => None,
            Normalized::Path(Cow::Owned(path)) => Some(path),
            Normalized::Invalid => {
                reject_malformed(session).await?;
                return Ok(true);
            }
        };
        if let Some(path) = normalized {
            let uri = with_path(&session.req_header().uri, &path)?;
            session.req_header_mut().set_uri(uri);
        }
        ctx.settings = Some(settings);
        let req = session.req_header();
        let Some(host) = checked_request_host(req) else {
            // why: Envoy checks the authority (`authorityIsValid`) and answers 400; forwarding it would
            // hand the upstream a `Host` it may read differently (a space, `/`, `?`, `#`, a control byte).
            reject_malformed(session).await?;
            return Ok(true);
        };
        if host.is_empty() && lacks_host(req) {
            if req.version > http::Version::HTTP_10 {
                // why: RFC 9112 §3.2 (and RFC 9113 §8.3.1 for h2): a request without a host is malformed;
                // Envoy and nginx answer 400. HTTP/1.0 (health checkers) may omit it, as nginx accepts.
                reject_malformed(session).await?;
                return Ok(true);
            }
            ctx.host_absent = true;
        }
        let Some(mut route) = find_route_for(&runtime, req, &host) else {
            respond(session, 404, b"").await?;
            return Ok(true);
        };
        let client = session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip());
        if !route.policy.allows(client) {
            ctx.route = Some(route);
            respond(session, 403, b"RBAC: access denied").await?;
            return Ok(true);
        }
        if let Some(auth) = &route.policy.basic_auth {
            if let Err(failure) = auth.check(session.req_header().headers.get(http::header::AUTHORIZATION)) {
                let body: &'static [u8] = match failure {
                    crate::basic_auth::AuthFailure::Missing => {
                        b"Request denied by Basic Auth check. No Basic Authentication information found"
                    }
                    crate::basic_auth::AuthFailure::Invalid => {
                        b"Request denied by Basic Auth check. Invalid username and/or password"
                    }
                };
                let mut header = local_header(401, 2, body)?;
                header.insert_header(http::header::WWW_AUTHENTICATE, auth.challenge.clone())?;
                header.insert_header(http::header::CONTENT_LENGTH, body.len())?;
                ctx.route = Some(route);
                send_local_reply(session, header, Bytes::from_static(body)).await?;
                return Ok(true);
            }
        }
        if !route.policy.admits() {
            ctx.route = Some(route);
            respond(session, 429, b"local_rate_limited").await?;
            return Ok(true);
        }
        if !route.chain.is_empty() {
            if let Some((response, ran)) = self.run_chain(session, &route, ctx).await? {
                let (header, body) = self.local_reply(session, &route, response, ran, ctx)?;
                ctx.route = Some(route);
                send_local_reply(session, header, body).await?;
                return Ok(true);
            }
            if ctx.reroute {
                // why: Envoy re-resolves the route after a Wasm plugin changed request headers.
                let Some(rerouted) = find_route(&runtime, session.req_header()) else {
                    ctx.route = Some(route);
                    respond(session, 404, b"").await?;
                    return Ok(true);
                };
                if !Arc::ptr_eq(&route, &rerouted) {
                    // The response hooks run on the new route's chain: exchanges of the old one's plugins
                    // cannot follow (positions would not match).
                    let host = ctx.client_host.as_deref().unwrap_or_default();
                    ctx.exchanges = rerouted.chain.select(host).map(|_| None).collect();
                }
                route = rerouted;
            }
        }
        if route.policy.has_cors() {
            let req = session.req_header();
            let verdict = route.policy.cors(
                req.headers.get(http::header::ORIGIN),
                &req.method,
                req.headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD),
            );
            match verdict {
                CorsVerdict::None => {}
                CorsVerdict::Response(headers) => ctx.cors = headers,
                CorsVerdict::Preflight(headers) => {
                    let mut header = local_header(200, headers.len() + 1, b"")?;
                    for (name, value) in headers {
                        header.insert_header(name, value)?;
                    }
                    header.insert_header(http::header::CONTENT_LENGTH, 0)?;
                    ctx.route = Some(route);
                    send_local_reply(session, header, Bytes::new()).await?;
                    return Ok(true);
                }
            }
        }
        if let Some(redirect) = route.policy.redirect_for(self.https) {
            let req = session.req_header();
            let path = req.uri.path_and_query().map_or("/", |p| p.as_str());
            let target = location(redirect, self.https, request_authority(req), path);
            let mut header = local_header(redirect.code, 2, b"")?;
            header.insert_header(http::header::LOCATION, target)?;
            header.insert_header(http::header::CONTENT_LENGTH, 0)?;
            ctx.route = Some(route);
            send_local_reply(session, header, Bytes::new()).await?;
            return Ok(true);
        }
        let canary = route.canary.as_ref().filter(|c| c.cluster.has_peers() && c.take());
        let cluster = if let Some(canary) = canary {
            Some(canary.cluster.clone())
        } else if route.cluster.has_peers() {
            Some(route.cluster.clone())
        } else {
            route.fallback.clone().filter(|f| f.has_peers())
        };
        ctx.route = Some(route);
        match cluster {
            Some(cluster) => {
                if let Some(copy) = ctx.route.as_ref().and_then(|r| r.mirror.as_ref()).and_then(|m| m.start(session.req_header())) {
                    if session.as_mut().is_body_empty() {
                        copy.send();
                    } else {
                        // Sent once the body went through (`request_body_filter`).
                        ctx.mirror = Some(Box::new(copy));
                    }
                }
                ctx.cluster = Some(cluster);
                Ok(false)
            }
            None => {
                respond(session, 503, b"no healthy upstream").await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Box<HttpPeer>> {
        let Some(cluster) = ctx.cluster.clone() else {
            return Err(Error::new(ErrorType::HTTPStatus(503)));
        };
        if ctx.connect_attempts == 0 {
            ctx.hash = request_hash(&cluster, session, &mut ctx.set_cookie);
        }
        // why: Envoy's retries prefer hosts not attempted yet (`previous_hosts` predicate, Istio default).
        let Some((index, endpoint)) =
            cluster.pick(PickHint { hash: ctx.hash, tried: ctx.tried }).and_then(|i| Some((i, cluster.endpoint(i)?)))
        else {
            return Err(Error::new(ErrorType::HTTPStatus(503)));
        };
        let addr = endpoint.addr;
        ctx.tried |= 1u128 << (index % 128);
        ctx.endpoint = Some(index);
        ctx.active = cluster.start_request(index);
        ctx.upstream = Some(addr);
        ctx.connect_attempts += 1;
        let mut peer = cluster.connect.peer(addr, || request_host(session.req_header()));
        let settings = ctx.settings.as_deref();
        let route_timeout = ctx.route.as_ref().and_then(|r| r.policy.timeout).or_else(|| settings.and_then(|s| s.route_timeout));
        let per_try = ctx.route.as_ref().and_then(|r| r.policy.per_try_timeout);
        peer.options.read_timeout = match (route_timeout, per_try) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        peer.options.idle_timeout = settings.and_then(|s| s.upstream_idle);
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let (Some(cluster), Some(index)) = (&ctx.cluster, ctx.endpoint) {
            cluster.report_failure(index);
        }
        // Nothing reached the endpoint: any method may go to another one.
        if let Some(retry) = ctx.route.as_ref().map(|r| &r.policy.retry) {
            let left = ctx.connect_attempts <= retry.attempts as usize;
            if left && (retry.on_connect_failure || retry.on_5xx) {
                e.set_retry(true);
            }
        }
        e
    }

    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if std::mem::take(&mut ctx.plugin_retry) {
            // why: a plugin asked for another attempt and the request body is kept for it.
            e.set_retry(true);
            return e;
        }
        if std::mem::take(&mut ctx.status_retry) {
            // The answer's status is retriable (checked, and counted, in `upstream_response_filter`).
            e.set_retry(true);
            return e;
        }
        let upstream_fault = e.esource() == &ErrorSource::Upstream;
        if upstream_fault && !client_reused {
            // A pooled connection the endpoint closed meanwhile says nothing about its health.
            if let (Some(cluster), Some(index)) = (&ctx.cluster, ctx.endpoint) {
                cluster.report_failure(index);
            }
        }
        let Some(route) = ctx.route.as_ref() else {
            e.set_retry(false);
            return e;
        };
        let retry = &route.policy.retry;
        let method_ok = session.req_header().method.is_idempotent() || retry.non_idempotent;
        if session.response_written().is_some() || !method_ok || session.as_ref().retry_buffer_truncated() {
            e.set_retry(false);
            return e;
        }
        let timed_out = matches!(e.etype(), ErrorType::ReadTimedout | ErrorType::WriteTimedout);
        let wanted = if timed_out { retry.on_5xx && route.policy.per_try_timeout.is_some() } else { retry.on_5xx || retry.on_reset };
        if upstream_fault && wanted && ctx.connect_attempts <= retry.attempts as usize {
            e.set_retry(true);
        } else if retry.attempts > 0 && !timed_out {
            // A stale pooled connection: pingora's default (retry only if the connection was reused).
            e.retry.decide_reuse(client_reused);
        } else {
            e.set_retry(false);
        }
        e
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let status = upstream_response.status.as_u16();
        if let (Some(cluster), Some(index)) = (&ctx.cluster, ctx.endpoint) {
            if status >= 500 {
                cluster.report_failure(index);
            } else {
                cluster.report_success(index);
            }
        }
        if let Some(route) = &ctx.route {
            let retry = &route.policy.retry;
            let retriable = retry.statuses.contains(&status) || (retry.on_5xx && status >= 500);
            if retriable
                && ctx.connect_attempts <= retry.attempts as usize
                && (session.req_header().method.is_idempotent() || retry.non_idempotent)
                && !session.as_ref().retry_buffer_truncated()
            {
                ctx.status_retry = true;
                let mut e = Error::explain(ErrorType::HTTPStatus(status), "retriable upstream status");
                e.set_retry(true);
                return Err(e);
            }
            // why: Higress's internal active redirect (`custom-http-errors`) runs after the route's retries
            // (Envoy's router decides retries first), at most once, and only with the whole request body
            // still held for a resend (Envoy needs it buffered too).
            if let Some(fallback) = route.error_fallback.as_ref().filter(|f| !ctx.fell_back && f.catches(status)) {
                if fallback.cluster.has_peers() && !session.as_ref().retry_buffer_truncated() {
                    ctx.fell_back = true;
                    ctx.cluster = Some(fallback.cluster.clone());
                    ctx.tried = 0;
                    ctx.hash = None;
                    ctx.status_retry = true;
                    let mut e = Error::explain(ErrorType::HTTPStatus(status), "custom-http-errors: sent to the default backend");
                    e.set_retry(true);
                    return Err(e);
                }
            }
        }
        if ctx.exchanges.iter().all(Option::is_none) {
            return Ok(());
        }
        let mut retry = RequestEdits::default();
        let mut again = false;
        for exchange in ctx.exchanges.iter_mut().flatten() {
            again |= exchange.on_upstream_status(status, &mut retry);
        }
        // A resend needs the request body: read and kept before the upstream was chosen, or none.
        if again && (ctx.body_read || session.as_mut().is_body_empty()) {
            apply_request_edits(session.req_header_mut(), retry)?;
            ctx.plugin_retry = true;
            let mut e = Error::explain(ErrorType::HTTPStatus(status), "a plugin asked to send the request again");
            e.set_retry(true);
            return Err(e);
        }
        Ok(())
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(ip) = client_ip(session) {
            let ip = IpText::new(ip);
            let ip = ip.as_bytes();
            let existing =
                upstream_request.headers.get(&X_FORWARDED_FOR_NAME).filter(|v| !v.is_empty() && v.to_str().is_ok());
            let forwarded = forwarded_for(existing, ip)?;
            upstream_request.insert_header(X_FORWARDED_FOR_NAME, forwarded)?;
            if ctx.settings.as_ref().is_some_and(|s| s.x_real_ip) {
                // why: Higress `addXRealIpHeader` sets (not appends) x-real-ip to the client address.
                upstream_request.insert_header(X_REAL_IP_NAME, header_value(ip, "x-real-ip")?)?;
            }
        }
        let proto = HeaderValue::from_static(if self.https { "https" } else { "http" });
        upstream_request.insert_header(X_FORWARDED_PROTO_NAME, proto)?;
        if let Some(route) = &ctx.route {
            if let Some(fallback) = route.error_fallback.as_ref().filter(|_| ctx.fell_back) {
                // why: Higress redirects to `http://example.com/` keeping the original host: the fallback
                // gets path `/` (no query) and the headers its `<route>-fallback` route matches on.
                upstream_request.set_uri(http::Uri::from_static("/"));
                upstream_request.insert_header("x-envoy-route-name", fallback.route_header.clone())?;
                upstream_request.insert_header("x-envoy-fallback-service", fallback.service_header.clone())?;
            }
            route.policy.apply_request(upstream_request)?;
            if let Some(path) = route.policy.rewrite_path(upstream_request.uri.path_and_query().map_or("/", |p| p.as_str())) {
                let uri = http::Uri::builder()
                    .path_and_query(path)
                    .build()
                    .map_err(|e| Error::explain(ErrorType::InternalError, format!("rewritten path: {e}")))?;
                upstream_request.set_uri(uri);
            }
        }
        if let Some(body) = &ctx.request_body {
            upstream_request.remove_header(&http::header::TRANSFER_ENCODING);
            upstream_request.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        }
        if ctx.host_absent && !upstream_request.headers.contains_key(http::header::HOST) {
            // why: the upstream request is HTTP/1.1, which needs a `Host`; nginx's `proxy_pass` sends
            // the upstream's own name (`$proxy_host`) when the client gave none.
            if let Some(addr) = ctx.upstream {
                upstream_request.insert_header(http::header::HOST, addr.to_string())?;
            }
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // The client's body was read whole (and kept by pingora for retries) before the upstream was
        // chosen; each connect attempt replays it, so each attempt gets the replacement once.
        if let Some(replacement) = &ctx.request_body {
            if ctx.request_body_sent != ctx.connect_attempts {
                ctx.request_body_sent = ctx.connect_attempts;
                *body = Some(replacement.clone());
            } else if body.is_some() {
                *body = Some(Bytes::new());
            }
        }
        if let Some(copy) = ctx.mirror.as_mut() {
            if !copy.push(ctx.connect_attempts, body.as_ref()) {
                ctx.mirror = None;
            } else if end_of_stream {
                if let Some(copy) = ctx.mirror.take() {
                    copy.send();
                }
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // why: Envoy (server_header_transformation OVERWRITE) names itself on every response.
        upstream_response.insert_header(http::header::SERVER, HeaderValue::from_static(SERVER_NAME))?;
        if let Some(value) = ctx.set_cookie.take() {
            if let Some(affinity) = ctx.cluster.as_ref().and_then(|c| c.affinity()) {
                // why: Envoy's generated hash cookie: quoted value, Max-Age only with a TTL, HttpOnly.
                let max_age = if affinity.max_age > 0 { format!("; Max-Age={}", affinity.max_age) } else { String::new() };
                let cookie = format!("{}=\"{value}\"{max_age}; Path={}; HttpOnly", affinity.name, affinity.path);
                upstream_response.append_header(http::header::SET_COOKIE, cookie)?;
            }
        }
        if let Some(route) = &ctx.route {
            route.policy.apply_response(upstream_response)?;
            for (name, value) in ctx.cors.drain(..) {
                upstream_response.insert_header(name, value)?;
            }
            if !route.chain.is_empty() {
                // The chain's hooks take the whole `ctx`: only then is the route's `Arc` cloned.
                let route = route.clone();
                self.run_response_chain(session, &route, upstream_response, ctx)?;
            }
        }
        if let Some(gzip) = ctx.settings.as_ref().and_then(|s| s.gzip.as_ref()) {
            ctx.gzip = gzip.start(session.req_header(), upstream_response)?.map(Box::new);
        }
        Ok(())
    }

    /// Only a body no plugin exchange, replacement, rewrite or compression touches (plugins that act on
    /// the request alone, such as request-block or key-auth, have no exchange): such a body may go from
    /// the upstream's socket to the client's without being read (`splice(2)`).
    fn response_body_may_bypass_filters(&self, _session: &Session, ctx: &RequestCtx) -> bool {
        self.splice
            && ctx.body_streams.is_empty()
            && ctx.exchanges.iter().all(Option::is_none)
            && ctx.replacement_body.is_none()
            && !ctx.body_replaced
            && ctx.response_body.is_none()
            && ctx.gzip.is_none()
    }

    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if !ctx.body_streams.is_empty() {
            let mut data = body.take().unwrap_or_default();
            for (position, transforms) in &ctx.body_streams {
                if let Some(Some(exchange)) = ctx.exchanges.get_mut(*position) {
                    if *transforms {
                        data = exchange.on_response_chunk(data, end_of_stream);
                    } else {
                        exchange.on_response_chunk(data.clone(), end_of_stream);
                    }
                }
            }
            *body = Some(data);
        }
        // Only a plugin exchange reports LLM usage (the time to the first token): no clock read otherwise.
        if ctx.first_byte.is_none() && !ctx.exchanges.is_empty() && body.as_ref().is_some_and(|b| !b.is_empty()) {
            ctx.first_byte = Some(Instant::now());
        }
        if ctx.replacement_body.is_some() || ctx.body_replaced {
            // The first chunk becomes the replacement, the upstream's own bytes are dropped.
            *body = ctx.replacement_body.take();
            ctx.body_replaced = true;
        }
        if let Some(readers) = ctx.response_body.as_mut() {
            if let Some(chunk) = body.take() {
                readers.body.extend_from_slice(&chunk);
            }
            if readers.body.len() > MAX_BUFFERED_RESPONSE_BODY {
                // Too large to rewrite: what was held back goes out unchanged, and so does the rest.
                *body = ctx.response_body.take().map(|r| r.body.freeze());
            } else if end_of_stream {
                let host = ctx.client_host.as_deref().map_or_else(|| request_host(session.req_header()), Cow::Borrowed);
                *body = ctx.response_body.take().map(|r| self.run_response_body(session, *r, &host));
            }
        }
        if let Some(gzip) = ctx.gzip.as_mut() {
            *body = gzip.chunk(body.as_deref(), end_of_stream);
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut RequestCtx) -> FailToProxy {
        let (code, body) = error_status(e);
        if code > 0 && session.response_written().is_none() {
            // A plugin that speaks the upstream's protocol answers in it (ai-proxy: OpenAI's error JSON).
            if let Some(response) = ctx.exchanges.iter_mut().flatten().find_map(|x| x.error_response(code)) {
                let sent = async {
                    let mut header = local_header(response.status, response.headers.len(), &response.body)?;
                    for (name, value) in response.headers {
                        header.insert_header(name, value)?;
                    }
                    header.insert_header(http::header::CONTENT_LENGTH, response.body.len())?;
                    send_local_reply(session, header, response.body).await
                };
                if sent.await.is_ok() {
                    return FailToProxy { error_code: code, can_reuse_downstream: false };
                }
            }
        }
        if code > 0 && respond(session, code, body).await.is_err() {
            tracing::debug!("could not send the error response");
        }
        FailToProxy { error_code: code, can_reuse_downstream: false }
    }

    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let metrics = &self.state.metrics;
        match &ctx.route {
            Some(route) => route.metrics.record(status),
            None => metrics.unrouted.record(status),
        }
        let elapsed = ctx.start.elapsed();
        metrics.latency.observe(elapsed);
        if error.is_some() && ctx.upstream.is_some() {
            metrics.upstream_errors.inc();
        }
        if let Some(spliced) = session.downstream_session.as_http1().map(|h1| h1.body_bytes_spliced()).filter(|n| *n > 0) {
            metrics.spliced_response_bytes.inc_by(spliced as u64);
        }
        if let Some(route) = &ctx.route {
            for usage in ctx.exchanges.iter().flatten().filter_map(|x| x.llm_usage()) {
                let first_token = ctx.first_byte.map(|t| t.duration_since(ctx.start));
                route.ai.get().record(status, usage.prompt_tokens, usage.completion_tokens, elapsed, first_token);
            }
        }
        if !tracing::enabled!(target: "oxigress::access", tracing::Level::INFO) {
            return;
        }
        let req = session.req_header();
        let host = ctx.client_host.as_deref().map_or_else(|| request_host(req), Cow::Borrowed);
        let path = ctx.client_path.as_deref().unwrap_or_else(|| req.uri.path());
        tracing::info!(
            target: "oxigress::access",
            instance = %self.state.instance,
            method = %req.method,
            host = %host,
            path = %path,
            status,
            route = ctx.route.as_ref().map_or("", |r| &r.name),
            upstream = ?ctx.upstream,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            error = error.map(|e| e.etype().as_str()),
        );
    }
}

impl GatewayProxy {
    /// Runs the route's plugins on the request headers and, when one asks, on the whole (bounded) body,
    /// applying each plugin's edits before the next one runs. Returns the response to send when a plugin
    /// answers, with how many of the selected plugins ran (the answering one included); a replaced
    /// request body is kept in `ctx`.
    async fn run_chain(
        &self,
        session: &mut Session,
        route: &CompiledRoute,
        ctx: &mut RequestCtx,
    ) -> Result<Option<(DirectResponse, usize)>> {
        let scheme = if self.https { "https" } else { "http" };
        let host: &str = ctx.client_host.insert(request_host(session.req_header()).into_owned());
        let client_ip = client_ip(session);
        let selected: SmallVec<[(usize, &Arc<dyn Plugin>); 8]> = route.chain.select(host).collect();
        ctx.exchanges = selected.iter().map(|(_, plugin)| plugin.exchange()).collect();
        // Plugins that said, on the headers, that they do not need this request's body.
        let mut skip_body = Vec::new();
        for (position, (index, plugin)) in selected.iter().enumerate() {
            let mut edits = RequestEdits::default();
            let view = RequestView { parts: session.req_header(), host, scheme, client_ip };
            let decision = match ctx.exchanges.get_mut(position) {
                Some(Some(exchange)) => exchange.on_request_headers(&view, &mut edits),
                _ => plugin.on_request_headers(&view, &mut edits),
            };
            if edits.skip_body {
                skip_body.push(position);
            }
            apply_plugin_edits(session, plugin, edits, &mut ctx.reroute, &mut ctx.client_path)?;
            if let Some(response) = count(route, *index, decision) {
                return Ok(Some((response, position + 1)));
            }
        }
        let wants_body = |position: usize, plugin: &Arc<dyn Plugin>| plugin.needs_request_body() && !skip_body.contains(&position);
        if !route.chain.needs_body_for(host) || !selected.iter().enumerate().any(|(pos, (_, p))| wants_body(pos, p)) {
            return Ok(None);
        }
        let all = selected.len();
        // The gateway's buffer limit, raised by a plugin that sets its own (Higress `SetRequestBodyBufferLimit`).
        let gateway_limit = ctx.settings.as_ref().map_or(crate::settings::MAX_BUFFERED_BODY, |s| s.body_limit(session.is_http2()));
        let limit = selected
            .iter()
            .enumerate()
            .filter(|(pos, (_, p))| wants_body(*pos, p))
            .filter_map(|(_, (_, p))| p.request_body_limit())
            .fold(gateway_limit, usize::max)
            .min(crate::settings::MAX_BUFFERED_BODY);
        let Some(mut body) = read_body(session, limit).await? else {
            let response = DirectResponse {
                status: 413,
                headers: Vec::new(),
                body: Bytes::from_static(b"request body too large for plugin inspection"),
            };
            return Ok(Some((response, all)));
        };
        ctx.body_read = true;
        for (position, (index, plugin)) in selected.iter().enumerate() {
            if !wants_body(position, plugin) {
                continue;
            }
            let mut edits = RequestEdits::default();
            let view = RequestView { parts: session.req_header(), host, scheme, client_ip };
            let decision = match ctx.exchanges.get_mut(position) {
                Some(Some(exchange)) => exchange.on_request_body(&view, &body, &mut edits),
                _ => plugin.on_request_body(&view, &body, &mut edits),
            };
            if let Some(replacement) = edits.body.take() {
                body = replacement.clone();
                ctx.request_body = Some(replacement);
            }
            apply_plugin_edits(session, plugin, edits, &mut ctx.reroute, &mut ctx.client_path)?;
            if let Some(response) = count(route, *index, decision) {
                return Ok(Some((response, all)));
            }
        }
        Ok(None)
    }

    /// Runs the route's plugins on the upstream response headers; a replacement body and the plugins
    /// that read or stream the body are kept in `ctx`.
    fn run_response_chain(&self, session: &Session, route: &CompiledRoute, response: &mut ResponseHeader, ctx: &mut RequestCtx) -> Result<()> {
        let ran = ctx.exchanges.len();
        let (replacement, readers) = self.response_hooks(session, route, ran, response, ctx)?;
        ctx.response_body = readers.map(Box::new);
        if let Some(body) = replacement {
            ctx.replacement_body = Some(body);
        }
        Ok(())
    }

    /// The response for a plugin's answer: its headers as [`send_local_reply`] writes them, after the
    /// response hooks of the plugins that ran (the answering one included) — Envoy sends a local reply
    /// through the encoder filters, and a Wasm filter that saw the request sees its response (this is how
    /// `custom-response` rewrites another plugin's 401).
    fn local_reply(
        &self,
        session: &Session,
        route: &CompiledRoute,
        response: DirectResponse,
        ran: usize,
        ctx: &mut RequestCtx,
    ) -> Result<(ResponseHeader, Bytes)> {
        let mut header = local_header(response.status, response.headers.len(), &response.body)?;
        for (name, value) in response.headers {
            header.insert_header(name, value)?;
        }
        // A local reply's body is known: plugins that asked to read or stream it are not run on it.
        let body = self.response_hooks(session, route, ran, &mut header, ctx)?.0.unwrap_or(response.body);
        ctx.body_streams.clear();
        header.remove_header(&http::header::TRANSFER_ENCODING);
        header.insert_header(http::header::CONTENT_LENGTH, body.len())?;
        Ok((header, body))
    }

    /// Runs `on_response_headers` of the first `ran` plugins selected for the request, **last first** (Envoy
    /// runs encoder filters in the reverse order of decoder filters), applying each one's edits to
    /// `response` before the next runs. Returns the replacement body a plugin asked for, the last one wins;
    /// the exchanges that stream or inspect the body are noted in `ctx.body_streams`.
    fn response_hooks(
        &self,
        session: &Session,
        route: &CompiledRoute,
        ran: usize,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<(Option<Bytes>, Option<ResponseBodyReaders>)> {
        let scheme = if self.https { "https" } else { "http" };
        let host = ctx.client_host.as_deref().map_or_else(|| request_host(session.req_header()), Cow::Borrowed);
        let view = RequestView { parts: session.req_header(), host: &host, scheme, client_ip: client_ip(session) };
        let plugins: SmallVec<[_; 8]> = route.chain.select(&host).take(ran).collect();
        let mut replacement = None;
        let mut readers = Vec::new();
        let mut streams_change_body = false;
        ctx.body_streams.clear();
        for (position, (_, plugin)) in plugins.into_iter().enumerate().rev() {
            let mut edits = ResponseEdits::default();
            let current = ResponseView { status: response.status.as_u16(), headers: &response.headers };
            match ctx.exchanges.get_mut(position) {
                Some(Some(exchange)) => {
                    exchange.on_response_headers(&view, &current, &mut edits);
                    if edits.stream_body || edits.inspect_body {
                        ctx.body_streams.push((position, edits.stream_body));
                        streams_change_body |= edits.stream_body;
                    }
                }
                _ => plugin.on_response_headers(&view, &current, &mut edits),
            }
            if let Some(status) = edits.status {
                response.set_status(status)?;
            }
            apply_header_edits(response, edits.headers)?;
            if let Some(body) = edits.body {
                response.remove_header(&http::header::TRANSFER_ENCODING);
                response.insert_header(http::header::CONTENT_LENGTH, body.len())?;
                replacement = Some(body);
            }
            if edits.read_body {
                readers.push(plugin.clone());
            }
        }
        let bodiless = matches!(response.status.as_u16(), 204 | 304) || session.req_header().method == http::Method::HEAD;
        if bodiless {
            ctx.body_streams.clear();
        }
        if (!readers.is_empty() || streams_change_body) && !bodiless {
            // The body may change size after the headers left: stream it.
            response.remove_header(&http::header::CONTENT_LENGTH);
            if session.req_header().version == http::Version::HTTP_11 {
                response.insert_header(http::header::TRANSFER_ENCODING, "chunked")?;
            }
        }
        if !readers.is_empty() && !bodiless {
            let readers = ResponseBodyReaders {
                plugins: readers,
                status: response.status.as_u16(),
                headers: response.headers.clone(),
                body: bytes::BytesMut::new(),
            };
            return Ok((replacement, Some(readers)));
        }
        Ok((replacement, None))
    }

    /// Runs the plugins that asked for the upstream body on it, in chain order, each on the previous one's
    /// result.
    fn run_response_body(&self, session: &Session, readers: ResponseBodyReaders, host: &str) -> Bytes {
        let scheme = if self.https { "https" } else { "http" };
        let view = RequestView { parts: session.req_header(), host, scheme, client_ip: client_ip(session) };
        let response = ResponseView { status: readers.status, headers: &readers.headers };
        let mut body = readers.body.freeze();
        for plugin in &readers.plugins {
            if let Some(replacement) = plugin.on_response_body(&view, &response, &body) {
                body = replacement;
            }
        }
        body
    }
}

/// The consistent-hash value of a request for `cluster`'s balancer, if it hashes. A cookie-affinity
/// request without the cookie gets a new value (kept in `set_cookie` for the response), derived from the
/// client's address as Envoy does.
fn request_hash(cluster: &ClusterRuntime, session: &Session, set_cookie: &mut Option<String>) -> Option<u64> {
    let req = session.req_header();
    if let Some(key) = cluster.hash_key() {
        return match key {
            HashSource::Path => Some(hash_bytes(req.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes())),
            HashSource::Authority => Some(hash_bytes(request_host(req).as_bytes())),
            HashSource::Header(name) => name.as_ref().and_then(|n| req.headers.get(n)).map(|v| hash_bytes(v.as_bytes())),
            HashSource::Query(name) => req.uri.query().and_then(|q| {
                q.split('&').find_map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (k == name).then(|| hash_bytes(v.as_bytes()))
                })
            }),
            HashSource::SourceIp => client_ip(session).map(|ip| match ip {
                std::net::IpAddr::V4(v4) => hash_bytes(&v4.octets()),
                std::net::IpAddr::V6(v6) => hash_bytes(&v6.octets()),
            }),
        };
    }
    let affinity = cluster.affinity()?;
    let found = req.headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == affinity.name).then(|| v.trim_matches('"'))
        })
    });
    if let Some(value) = found {
        return Some(hash_bytes(value.as_bytes()));
    }
    let client = session.client_addr().map(|a| a.to_string()).unwrap_or_default();
    let value = format!("{:016x}", hash_bytes(client.as_bytes()));
    let hash = hash_bytes(value.as_bytes());
    *set_cookie = Some(value);
    Some(hash)
}

/// The plugins that read the upstream body, and what they need to run at its end.
pub struct ResponseBodyReaders {
    plugins: Vec<Arc<dyn oxigress_plugins::Plugin>>,
    status: u16,
    headers: http::HeaderMap,
    body: bytes::BytesMut,
}

/// Largest upstream body held back for plugins; a larger one passes unchanged.
const MAX_BUFFERED_RESPONSE_BODY: usize = 1024 * 1024;

/// The route for `req` in `runtime`.
fn find_route(runtime: &crate::runtime::Runtime, req: &RequestHeader) -> Option<Arc<CompiledRoute>> {
    find_route_for(runtime, req, &request_host(req))
}

/// The route for `req`, whose host ([`request_host`]) is `host`.
fn find_route_for(runtime: &crate::runtime::Runtime, req: &RequestHeader, host: &str) -> Option<Arc<CompiledRoute>> {
    let facts = RequestFacts { host, path: req.uri.path(), query: req.uri.query(), method: &req.method, headers: &req.headers };
    runtime.router.find(&facts).cloned()
}

/// `uri` with its path replaced by `path` (its query, scheme and authority kept).
fn with_path(uri: &http::Uri, path: &str) -> Result<http::Uri> {
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(
        http::uri::PathAndQuery::try_from(target)
            .map_err(|e| Error::explain(ErrorType::InternalError, format!("normalized path: {e}")))?,
    );
    http::Uri::from_parts(parts).map_err(|e| Error::explain(ErrorType::InternalError, format!("normalized path: {e}")))
}

/// Whether `req` names no host at all: no `Host` header and no authority in its target (h2 `:authority`).
fn lacks_host(req: &RequestHeader) -> bool {
    !req.headers.contains_key(http::header::HOST) && req.uri.authority().is_none()
}

/// The size of a request head as Envoy bounds it (`max_request_headers_kb`): every header name and
/// value, and the request target.
fn head_size(req: &RequestHeader) -> usize {
    req.headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum::<usize>()
        + req.uri.path_and_query().map_or(0, |p| p.as_str().len())
}

/// Counts a plugin's decision; the response when it answered.
fn count(route: &CompiledRoute, index: usize, decision: Decision) -> Option<DirectResponse> {
    let counters = route.plugin_counters.get(index);
    match decision {
        Decision::Continue => {
            counters.inspect(|c| {
                c.pass.inc();
            });
            None
        }
        Decision::Respond(response) => {
            counters.inspect(|c| {
                c.respond.inc();
            });
            Some(response)
        }
    }
}

fn client_ip(session: &Session) -> Option<IpAddr> {
    session.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip())
}

/// `x-forwarded-for` for the upstream: the client's `existing` value (if any) followed by `ip` (its text).
fn forwarded_for(existing: Option<&HeaderValue>, ip: &[u8]) -> Result<HeaderValue> {
    match existing {
        None => header_value(ip, X_FORWARDED_FOR),
        Some(existing) => {
            let mut value = Vec::with_capacity(existing.len() + 2 + ip.len());
            value.extend_from_slice(existing.as_bytes());
            value.extend_from_slice(b", ");
            value.extend_from_slice(ip);
            HeaderValue::from_maybe_shared(Bytes::from(value))
                .map_err(|e| Error::explain(ErrorType::InternalError, format!("{X_FORWARDED_FOR}: {e}")))
        }
    }
}

/// `text` as the value of header `name`.
fn header_value(text: &[u8], name: &str) -> Result<HeaderValue> {
    HeaderValue::from_bytes(text).map_err(|e| Error::explain(ErrorType::InternalError, format!("{name}: {e}")))
}

/// An address's text as `Display` writes it (IPv4 without the formatting machinery, see [`write_ipv4`]).
enum IpText {
    V4([u8; 15], usize),
    V6(String),
}

impl IpText {
    fn new(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(ip) => {
                let mut buf = [0u8; 15];
                let len = write_ipv4(ip, &mut buf).len();
                Self::V4(buf, len)
            }
            IpAddr::V6(ip) => Self::V6(ip.to_string()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::V4(buf, len) => &buf[..*len],
            Self::V6(text) => text.as_bytes(),
        }
    }
}

/// Dotted decimal form of `ip` in `buf` (what `Display` writes, without the formatting machinery, which
/// costs more than a thousand instructions per request).
fn write_ipv4(ip: Ipv4Addr, buf: &mut [u8; 15]) -> &[u8] {
    let mut len = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            buf[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            buf[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            buf[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        buf[len] = b'0' + octet % 10;
        len += 1;
    }
    &buf[..len]
}

/// Request and response headers, as plugin edits change them.
trait EditableHeaders {
    fn set(&mut self, name: String, value: String) -> Result<()>;
    fn add(&mut self, name: String, value: String) -> Result<()>;
    fn remove(&mut self, name: &str);
}

impl EditableHeaders for RequestHeader {
    fn set(&mut self, name: String, value: String) -> Result<()> {
        self.insert_header(name, value)
    }
    fn add(&mut self, name: String, value: String) -> Result<()> {
        self.append_header(name, value).map(|_| ())
    }
    fn remove(&mut self, name: &str) {
        self.remove_header(name);
    }
}

impl EditableHeaders for ResponseHeader {
    fn set(&mut self, name: String, value: String) -> Result<()> {
        self.insert_header(name, value)
    }
    fn add(&mut self, name: String, value: String) -> Result<()> {
        self.append_header(name, value).map(|_| ())
    }
    fn remove(&mut self, name: &str) {
        self.remove_header(name);
    }
}

/// Removes, then sets, then appends, as the plugin asked.
fn apply_header_edits(target: &mut impl EditableHeaders, edits: HeaderEdits) -> Result<()> {
    for name in edits.remove {
        target.remove(&name);
    }
    for (name, value) in edits.set {
        target.set(name, value)?;
    }
    for (name, value) in edits.add {
        target.add(name, value)?;
    }
    Ok(())
}

/// Applies one chain plugin's request edits: notes whether the route must be chosen again (a rerouting
/// plugin changed the request) and keeps the client's path before the first plugin rewrites it.
fn apply_plugin_edits(
    session: &mut Session,
    plugin: &Arc<dyn Plugin>,
    edits: RequestEdits,
    reroute: &mut bool,
    client_path: &mut Option<String>,
) -> Result<()> {
    *reroute |= plugin.reroute() && (!edits.headers.is_empty() || edits.path_and_query.is_some());
    if edits.path_and_query.is_some() && client_path.is_none() {
        *client_path = Some(session.req_header().uri.path().to_string());
    }
    apply_request_edits(session.req_header_mut(), edits)
}

fn apply_request_edits(request: &mut RequestHeader, edits: RequestEdits) -> Result<()> {
    if edits.headers.is_empty() && edits.path_and_query.is_none() {
        return Ok(());
    }
    apply_header_edits(request, edits.headers)?;
    if let Some(target) = edits.path_and_query {
        let uri = http::Uri::builder()
            .path_and_query(target)
            .build()
            .map_err(|e| Error::explain(ErrorType::InternalError, format!("plugin set an invalid path: {e}")))?;
        request.set_uri(uri);
    }
    Ok(())
}

/// Reads the whole request body, keeping it for the upstream (pingora sends it from its retry buffer,
/// sized here to `limit`); `None` when it exceeds `limit` (the ConfigMap's buffer limit, see
/// [`SettingsRuntime::body_limit`]).
///
/// The body handed to the plugins is the retry buffer itself, frozen (one copy of the body, shared by
/// the plugins and every connect attempt); the pieces are joined here only when the session keeps no
/// retry buffer.
async fn read_body(session: &mut Session, limit: usize) -> Result<Option<Bytes>> {
    session.as_mut().enable_retry_buffering_up_to(limit);
    let mut pieces: SmallVec<[Bytes; 2]> = SmallVec::new();
    let mut len = 0;
    while let Some(piece) = session.read_request_body().await? {
        len += piece.len();
        if len > limit {
            return Ok(None);
        }
        pieces.push(piece);
    }
    if let Some(whole) = session.as_mut().freeze_retry_buffer().filter(|whole| whole.len() == len) {
        return Ok(Some(whole));
    }
    Ok(Some(match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.swap_remove(0),
        _ => {
            let mut joined = bytes::BytesMut::with_capacity(len);
            for piece in &pieces {
                joined.extend_from_slice(piece);
            }
            joined.freeze()
        }
    }))
}

/// Sends a plugin's response (built by [`GatewayProxy::local_reply`]).
async fn send_local_reply(session: &mut Session, header: ResponseHeader, body: Bytes) -> Result<()> {
    session.write_response_header(Box::new(header), body.is_empty()).await?;
    if !body.is_empty() {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// The request's authority as sent: `Host` (HTTP/1) or the URI authority (HTTP/2), port and case
/// kept; empty when there is none.
pub(crate) fn request_authority(req: &RequestHeader) -> &str {
    req.headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
}

/// The request's host: [`request_authority`] without port, lower case.
fn request_host(req: &RequestHeader) -> Cow<'_, str> {
    let raw = request_authority(req);
    host_part(raw, raw.bytes().any(|b| b.is_ascii_uppercase()))
}

/// `authority` without its port, in lower case; `upper` tells whether it holds upper-case letters
/// (without any it is borrowed as it is).
fn host_part(authority: &str, upper: bool) -> Cow<'_, str> {
    let host = strip_port(authority);
    if upper {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

/// [`request_host`], or `None` when the host holds a byte no authority may (RFC 3986 §3.2: only
/// unreserved characters, sub-delimiters, `:`, `@`, `[`, `]` and `%`), as Envoy's `authorityIsValid`
/// (nghttp2's authority check) decides. One pass over the bytes, without branches, gathers both what
/// is invalid and whether there is upper case.
fn checked_request_host(req: &RequestHeader) -> Option<Cow<'_, str>> {
    let raw = match req.headers.get(http::header::HOST) {
        Some(value) => value.as_bytes(),
        None => req.uri.authority().map_or(&b""[..], |a| a.as_str().as_bytes()),
    };
    let seen = raw.iter().fold(0, |seen, &byte| seen | AUTHORITY_BYTES[usize::from(byte)]);
    if seen & INVALID != 0 {
        return None;
    }
    // Every byte is ASCII here.
    Some(host_part(std::str::from_utf8(raw).ok()?, seen & UPPER != 0))
}

/// [`AUTHORITY_BYTES`] flag: a byte no authority may hold.
const INVALID: u8 = 1;
/// [`AUTHORITY_BYTES`] flag: an upper-case letter.
const UPPER: u8 = 2;

/// Per byte, what an authority (`host[:port]`, with `userinfo@` and `[IPv6]`) makes of it: 0 (allowed),
/// [`UPPER`] or [`INVALID`].
static AUTHORITY_BYTES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_uppercase() {
            table[byte] = UPPER;
        } else if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b','
                | b';' | b'=' | b':' | b'@' | b'[' | b']' | b'%')
        {
            table[byte] = 0;
        }
        byte += 1;
    }
    table
};

fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        // [v6]:port
        return authority.split_once(']').map_or(authority, |(h, _)| &authority[..=h.len()]);
    }
    authority.rsplit_once(':').map_or(authority, |(host, _)| host)
}

/// The status and body an error is answered with: pingora's mapping, except that an upstream read
/// timeout is 504 `upstream request timeout` as Envoy answers a route timeout (pingora would say 502); 0
/// when the client is gone.
fn error_status(e: &Error) -> (u16, &'static [u8]) {
    match (e.etype(), e.esource()) {
        (ErrorType::HTTPStatus(code), _) => (*code, b""),
        (ErrorType::ReadTimedout, ErrorSource::Upstream) => (504, b"upstream request timeout"),
        (_, ErrorSource::Upstream) => (502, b""),
        (ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed, ErrorSource::Downstream) => (0, b""),
        (_, ErrorSource::Downstream) => (400, b""),
        _ => (500, b""),
    }
}

/// The headers of a gateway-made response: `Server`, and `Content-Type: text/plain` when there is a body.
fn local_header(status: u16, extra: usize, body: &[u8]) -> Result<ResponseHeader> {
    let mut header = ResponseHeader::build(status, Some(extra + 3))?;
    header.insert_header(http::header::SERVER, SERVER_NAME)?;
    if !body.is_empty() {
        header.insert_header(http::header::CONTENT_TYPE, "text/plain")?;
    }
    Ok(header)
}

/// Answers a malformed request 400 and closes the connection after it, as pingora does for the
/// requests it cannot parse (what else the client sent on it cannot be trusted either).
async fn reject_malformed(session: &mut Session) -> Result<()> {
    session.set_keepalive(None);
    respond(session, 400, b"").await
}

/// Answers with `status` and a short text body (no route, no healthy upstream).
async fn respond(session: &mut Session, status: u16, body: &'static [u8]) -> Result<()> {
    let mut header = local_header(status, 0, body)?;
    header.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    send_local_reply(session, header, Bytes::from_static(body)).await
}

#[cfg(test)]
mod tests {
    use super::{forwarded_for, strip_port, write_ipv4, IpText};
    use http::HeaderValue;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn ipv4_is_written_as_display_writes_it() {
        for ip in ["0.0.0.0", "127.0.0.1", "10.20.30.40", "255.255.255.255", "1.100.9.199", "192.168.0.10"] {
            let ip: Ipv4Addr = ip.parse().unwrap();
            let mut buf = [0u8; 15];
            assert_eq!(write_ipv4(ip, &mut buf), ip.to_string().as_bytes());
        }
    }

    #[test]
    fn forwarded_for_appends_the_client() {
        let v4 = IpText::new(IpAddr::from([10, 0, 0, 7]));
        assert_eq!(forwarded_for(None, v4.as_bytes()).unwrap(), "10.0.0.7");
        let existing = HeaderValue::from_static("1.2.3.4");
        assert_eq!(forwarded_for(Some(&existing), v4.as_bytes()).unwrap(), "1.2.3.4, 10.0.0.7");
        let v6 = IpText::new("2001:db8::1".parse().unwrap());
        assert_eq!(forwarded_for(None, v6.as_bytes()).unwrap(), "2001:db8::1");
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("foo.com:8080"), "foo.com");
        assert_eq!(strip_port("foo.com"), "foo.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
    }
}
