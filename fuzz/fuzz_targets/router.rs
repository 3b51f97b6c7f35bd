//! Random route tables (hosts, Exact/Prefix/Regex paths, header/query/method conditions, policies) and
//! random requests: compiling the runtime and matching never panic.
#![no_main]

use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use oxigress_ir::{Cluster, Forward, HeaderMatch, MatchKind, PathMatch, Route, RouteAction, RoutePolicy, Snapshot, SourceRef, VirtualHost};
use oxigress_proxy::router::RequestFacts;
use oxigress_proxy::{ProxyMetrics, Runtime};

fn kind(u: &mut Unstructured<'_>) -> Result<MatchKind> {
    Ok(*u.choose(&[MatchKind::Exact, MatchKind::Prefix, MatchKind::Regex])?)
}

fn value_match(u: &mut Unstructured<'_>) -> Result<HeaderMatch> {
    Ok(HeaderMatch { name: u.arbitrary::<String>()?.to_ascii_lowercase(), kind: kind(u)?, value: u.arbitrary()? })
}

fn route(u: &mut Unstructured<'_>, id: String) -> Result<Route> {
    let text: String = u.arbitrary()?;
    let path = match u.int_in_range(0..=2)? {
        0 => PathMatch::Exact(text),
        1 => PathMatch::Prefix(text),
        _ => PathMatch::Regex(text),
    };
    let headers = (0..u.int_in_range(0..=2)?).map(|_| value_match(u)).collect::<Result<_>>()?;
    let query = (0..u.int_in_range(0..=2)?).map(|_| value_match(u)).collect::<Result<_>>()?;
    let methods = (0..u.int_in_range(0..=2)?).map(|_| u.arbitrary()).collect::<Result<_>>()?;
    let policy = RoutePolicy { ignore_path_case: u.arbitrary()?, ..RoutePolicy::default() };
    Ok(Route {
        id: id.clone(),
        name: id,
        source: SourceRef { kind: "Ingress".into(), namespace: "ns".into(), name: "i".into() },
        path,
        headers,
        query,
        methods,
        action: RouteAction::Forward(Forward { cluster: "c".into(), fallback: None, canary: None }),
        plugins: Vec::new(),
        policy,
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut virtual_hosts = Vec::new();
    for h in 0..u.int_in_range(0..=4)? {
        let host: String = u.arbitrary()?;
        let routes = (0..u.int_in_range(0..=4)?).map(|r| route(u, format!("{h}/{r}"))).collect::<Result<_>>()?;
        virtual_hosts.push(VirtualHost { host, routes });
    }
    let cluster = Cluster { id: "c".into(), endpoints: Vec::new() };
    let snapshot = Snapshot { virtual_hosts, clusters: [("c".to_string(), cluster)].into(), ..Snapshot::default() };
    let metrics = ProxyMetrics::register(&mut prometheus_client::registry::Registry::default());
    let (runtime, _problems) = Runtime::compile(Arc::new(snapshot), &metrics);
    while !u.is_empty() {
        let host: String = u.arbitrary()?;
        let path: String = u.arbitrary()?;
        let query: Option<String> = u.arbitrary()?;
        let method = Method::from_bytes(u.arbitrary::<String>()?.as_bytes()).unwrap_or(Method::GET);
        let mut headers = HeaderMap::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let (name, value): (String, String) = u.arbitrary()?;
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.append(name, value);
            }
        }
        let facts = RequestFacts { host: &host, path: &path, query: query.as_deref(), method: &method, headers: &headers };
        let _ = runtime.router.find(&facts);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
