use super::*;
use crate::{Decision, RequestView};
use crate::DirectResponse;
use bytes::Bytes;

struct Answer(u16);
impl Plugin for Answer {
    fn name(&self) -> &str {
        "answer"
    }
    fn on_request_headers(&self, _request: &RequestView<'_>, _edits: &mut crate::RequestEdits) -> Decision {
        Decision::Respond(DirectResponse { status: self.0, headers: vec![], body: Bytes::new() })
    }
}

fn status(chain: &Chain, host: &str) -> Option<u16> {
    let (parts, _) = http::Request::get("/").body(()).unwrap().into_parts();
    let view = RequestView { parts: &parts, host, scheme: "http", client_ip: None };
    for (_, plugin) in chain.select(host) {
        if let Decision::Respond(r) = plugin.on_request_headers(&view, &mut Default::default()) {
            return Some(r.status);
        }
    }
    None
}

#[test]
fn first_matching_rule_then_default() {
    let entry = ChainEntry {
        index: 0,
        rules: vec![
            (vec![HostPattern::parse("a.com")], Arc::new(Answer(401)) as Arc<dyn Plugin>),
            (vec![], Arc::new(Answer(402))),
            (vec![HostPattern::parse("b.com")], Arc::new(Answer(403))),
        ],
        default: Some(Arc::new(Answer(404))),
    };
    let chain = Chain::new(vec![entry]);
    assert_eq!(status(&chain, "a.com"), Some(401));
    assert_eq!(status(&chain, "b.com"), Some(402), "an unconditional rule before b.com's rule wins");
    let host_only = Chain::new(vec![ChainEntry {
        index: 0,
        rules: vec![(vec![HostPattern::parse("a.com")], Arc::new(Answer(401)) as Arc<dyn Plugin>)],
        default: None,
    }]);
    assert_eq!(status(&host_only, "a.com"), Some(401));
    assert_eq!(status(&host_only, "c.com"), None, "no rule and no default: the plugin does not run");
    assert!(Chain::default().is_empty());
}
