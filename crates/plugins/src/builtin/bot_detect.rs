//! `bot-detect`: block requests whose `User-Agent` looks like a crawler. Semantics of Higress's Go plugin
//! (`plugins/wasm-go/extensions/bot-detect/main.go`, `config/bot_detect_config.go`), quirks included:
//! - order: an empty `User-Agent` is blocked; then `allow` regexes (a match lets the request through, also
//!   past the default rules); then `deny` regexes; then the built-in crawler list ([`DEFAULT_BOT_RULES`],
//!   from ua-parser's `regexes.yaml`); otherwise the request goes on. All are unanchored searches;
//! - `allow` / `deny` are used only when they are lists (anything else is ignored); items are Go (RE2)
//!   regexes — `\d`, `\w`, `\s`, `\b` are ASCII-only as in Go;
//! - `blocked_code` defaults to 403 (also when 0 or unparsable), `blocked_message` to
//!   `Invalid User-Agent`; the body is sent as `text/plain`;
//! - only the first `User-Agent` value is looked at.
//!
//! oxigress differences: a request **without** `User-Agent` is blocked like an empty one (the Go plugin
//! pauses it forever, until Envoy's stream idle timeout); a `blocked_code` outside 100–999 is a
//! configuration error.

use std::sync::LazyLock;

use bytes::Bytes;
use regex::Regex;
use serde_json::Value;

use super::{gjson_int, gjson_string};
use crate::{ConfigError, Decision, DirectResponse, Plugin, RequestEdits, RequestView};

/// Plugin name.
pub const NAME: &str = "bot-detect";

const DEFAULT_CODE: u16 = 403;
const DEFAULT_MESSAGE: &str = "Invalid User-Agent";

/// The built-in crawler patterns (Go syntax), in the order the Go plugin checks them.
pub const DEFAULT_BOT_RULES: [&str; 6] = [
    r"(\/[A-Za-z0-9\.]+|) {0,5}([A-Za-z0-9 \-_\!\[\]:]{0,50}([Aa]rchiver|[Ii]ndexer|[Ss]craper|[Bb]ot|[Ss]pider|[Cc]rawl[a-z]{0,50}))[/ ](\d+)(\.(\d+)(\.(\d+)|)|)",
    r"((\/[A-Za-z0-9\.]+|) {0,5}([A-Za-z0-9 \-_\!\[\]:]{0,50}([Aa]rchiver|[Ii]ndexer|[Ss]craper|[Bb]ot|[Ss]pider|[Cc]rawl[a-z]{0,50})) (\d+)(\.(\d+)(\.(\d+)|)|))",
    r"((([A-z0-9]{1,50}|[A-z\-]{1,} ?|)( the |)(?:[Ss][Pp][Ii][Dd][Ee][Rr]|[Ss]crape|[Cc][Rr][Aa][Ww][Ll])[A-z0-9]{0,50})(([ /]| v)(\d+)(\.(\d+)|)(\.(\d+)|)|))",
    r"((Ant-)?Nutch|[A-z]+[Bb]ot|[A-z]+[Ss]pider|Axtaris|fetchurl|Isara|ShopSalad|Tailsweep)[ \-](\d+)(\.(\d+)(\.(\d+))?)?",
    r"\b(008|Altresium|Argus|BaiduMobaider|BoardReader|DNSGroup|DataparkSearch|EDI|Goodzer|Grub|INGRID|Infohelfer|LinkedInBot|LOOQ|Nutch|OgScrper|PathDefender|Peew|PostPost|Steeler|Twitterbot|VSE|WebCrunch|WebZIP|Y!J-BR[A-Z]|YahooSeeker|envolk|sproose|wminer)/(\d+)(?:\.(\d+)|)(?:\.(\d+)|)",
    concat!(
        r"((CSimpleSpider|Cityreview Robot|CrawlDaddy|CrawlFire|Finderbots|Index crawler|Job Roboter|KiwiStatus Spider|",
        r"Lijit Crawler|QuerySeekerSpider|ScollSpider|Trends Crawler|USyd-NLP-Spider|SiteCat Webbot|BotName\/\$BotVersion|",
        r"123metaspider-Bot|1470\.net crawler|50\.nu|8bo Crawler Bot|Aboundex|Accoona-[A-z]{1,30}-Agent|",
        r"AdsBot-Google(?:-[a-z]{1,30}|)|altavista|AppEngine-Google|archive.{0,30}\.org_bot|archiver|Ask Jeeves|",
        r"[Bb]ai[Dd]u[Ss]pider(?:-[A-Za-z]{1,30})(?:-[A-Za-z]{1,30}|)|bingbot|BingPreview|blitzbot|BlogBridge|Bloglovin|",
        r"BoardReader Blog Indexer|BoardReader Favicon Fetcher|boitho.com-dc|BotSeer|BUbiNG|\b\w{0,30}favicon\w{0,30}\b|",
        r"\bYeti(?:-[a-z]{1,30}|)|Catchpoint(?: bot|)|[Cc]harlotte|Checklinks|clumboot|Comodo HTTP\(S\) Crawler|",
        r"Comodo-Webinspector-Crawler|ConveraCrawler|CRAWL-E|CrawlConvera|Daumoa(?:-feedfetcher|)|Feed Seeker Bot|",
        r"Feedbin|findlinks|Flamingo_SearchEngine|FollowSite Bot|furlbot|Genieo|gigabot|GomezAgent|gonzo1|",
        r"(?:[a-zA-Z]{1,30}-|)Googlebot(?:-[a-zA-Z]{1,30}|)|Google SketchUp|grub-client|gsa-crawler|heritrix|",
        r"HiddenMarket|holmes|HooWWWer|htdig|ia_archiver|ICC-Crawler|Icarus6j|ichiro(?:/mobile|)|IconSurf|",
        r"IlTrovatore(?:-Setaccio|)|InfuzApp|Innovazion Crawler|InternetArchive|IP2[a-z]{1,30}Bot|jbot\b|KaloogaBot|",
        r"Kraken|Kurzor|larbin|LEIA|LesnikBot|Linguee Bot|LinkAider|LinkedInBot|Lite Bot|Llaut|lycos|Mail\.RU_Bot|",
        r"masscan|masidani_bot|Mediapartners-Google|Microsoft .{0,30} Bot|mogimogi|mozDex|MJ12bot|",
        r"msnbot(?:-media {0,2}|)|msrbot|Mtps Feed Aggregation System|netresearch|Netvibes|NewsGator[^/]{0,30}|",
        r"^NING|Nutch[^/]{0,30}|Nymesis|ObjectsSearch|OgScrper|Orbiter|OOZBOT|PagePeeker|PagesInventory|",
        r"PaxleFramework|Peeplo Screenshot Bot|PlantyNet_WebRobot|Pompos|Qwantify|Read%20Later|Reaper|RedCarpet|",
        r"Retreiver|Riddler|Rival IQ|scooter|Scrapy|Scrubby|searchsight|seekbot|semanticdiscovery|SemrushBot|Simpy|",
        r"SimplePie|SEOstats|SimpleRSS|SiteCon|Slackbot-LinkExpanding|Slack-ImgProxy|Slurp|snappy|Speedy Spider|",
        r"Squrl Java|Stringer|TheUsefulbot|ThumbShotsBot|Thumbshots\.ru|Tiny Tiny RSS|Twitterbot|WhatsApp|URL2PNG|",
        r"Vagabondo|VoilaBot|^vortex|Votay bot|^voyager|WASALive.Bot|Web-sniffer|WebThumb|WeSEE:[A-z]{1,30}|WhatWeb|",
        r"WIRE|WordPress|Wotbox|www\.almaden\.ibm\.com|Xenu(?:.s|) Link Sleuth|Xerka [A-z]{1,30}Bot|yacy(?:bot|)|",
        r"YahooSeeker|Yahoo! Slurp|Yandex\w{1,30}|YodaoBot(?:-[A-z]{1,30}|)|YottaaMonitor|Yowedo|^Zao|^Zao-Crawler|",
        r"ZeBot_www\.ze\.bz|ZooShot|ZyBorg)(?:[ /]v?(\d+)(?:\.(\d+)(?:\.(\d+)|)|)|))",
    ),
];

/// The compiled built-in patterns, shared by every instance.
static DEFAULT_RULES: LazyLock<Result<Vec<Regex>, String>> = LazyLock::new(|| {
    DEFAULT_BOT_RULES
        .iter()
        .enumerate()
        .map(|(i, source)| go_regex(source).map_err(|e| format!("built-in bot rule {i}: {e}")))
        .collect()
});

/// A configured bot-detect.
#[derive(Debug)]
pub struct BotDetect {
    blocked_code: u16,
    blocked_message: Bytes,
    allow: Vec<Regex>,
    deny: Vec<Regex>,
    defaults: &'static [Regex],
}

impl BotDetect {
    /// Parses the plugin configuration.
    pub fn from_config(config: &Value) -> Result<Self, ConfigError> {
        let defaults = DEFAULT_RULES.as_ref().map_err(|e| ConfigError::new("", e.clone()))?;
        let blocked_code = match gjson_int(config, "blocked_code") {
            0 => DEFAULT_CODE,
            code => u16::try_from(code)
                .ok()
                .filter(|c| (100..=999).contains(c))
                .ok_or_else(|| ConfigError::new("blocked_code", format!("{code} is not an HTTP status code")))?,
        };
        let message = gjson_string(config, "blocked_message");
        let message = if message.is_empty() { DEFAULT_MESSAGE.to_string() } else { message };
        Ok(Self {
            blocked_code,
            blocked_message: Bytes::from(message),
            allow: regex_list(config, "allow")?,
            deny: regex_list(config, "deny")?,
            defaults,
        })
    }

    /// Whether a request with this `User-Agent` may go on.
    fn allows(&self, user_agent: &str) -> bool {
        if user_agent.is_empty() {
            return false;
        }
        if self.allow.iter().any(|r| r.is_match(user_agent)) {
            return true;
        }
        !self.deny.iter().chain(self.defaults).any(|r| r.is_match(user_agent))
    }
}

impl Plugin for BotDetect {
    fn name(&self) -> &str {
        NAME
    }

    fn on_request_headers(&self, request: &RequestView<'_>, _edits: &mut RequestEdits) -> Decision {
        let user_agent = request
            .parts
            .headers
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .unwrap_or_default();
        if self.allows(&user_agent) {
            return Decision::Continue;
        }
        Decision::Respond(DirectResponse {
            status: self.blocked_code,
            headers: Vec::new(),
            body: self.blocked_message.clone(),
        })
    }
}

/// `field` compiled as Go regexes when it is a list (gjson `.IsArray()`), else empty.
fn regex_list(config: &Value, field: &str) -> Result<Vec<Regex>, ConfigError> {
    let Some(Value::Array(items)) = config.get(field) else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let source = match item {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            go_regex(&source).map_err(|e| ConfigError::new(format!("{field}[{i}]"), format!("invalid regex: {e}")))
        })
        .collect()
}

/// Compiles a Go (RE2) regex with Go's meaning of the Perl classes: `\d`, `\w`, `\s` and `\b` are ASCII-only
/// in Go but Unicode-aware in the `regex` crate, so they are rewritten to explicit ASCII classes.
pub(crate) fn go_regex(source: &str) -> Result<Regex, regex::Error> {
    let mut out = String::with_capacity(source.len() + 16);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str(r"[\t\n\x0C\r ]"),
            Some('S') => out.push_str(r"[^\t\n\x0C\r ]"),
            Some('b') => out.push_str(r"(?-u:\b)"),
            Some('B') => out.push_str(r"(?-u:\B)"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Regex::new(&out)
}

#[cfg(test)]
mod tests;
