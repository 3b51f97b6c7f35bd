//! Retry annotations (ASAP), Higress `retry.go` → Istio `HTTPRetry` on the route: `proxy-next-upstream-tries`
//! (retries, default 3), `proxy-next-upstream-timeout` (seconds per attempt), `proxy-next-upstream`
//! (`error`/`timeout`/`invalid_header` → Envoy `5xx`, `http_<code>` → retriable status codes,
//! `non_idempotent`, `off` → no retry; default `5xx`). Without any of them the route keeps the default
//! policy ([`Retry::default_policy`]).

use oxigress_ir::Retry;
use oxigress_objects::{Diagnostic, ObjectRef};

use super::Annotations;

/// Reads the retry annotations; `None` when none is present. Problems become diagnostics on `object`.
pub fn parse(annotations: &Annotations<'_>, object: &ObjectRef, diagnostics: &mut Vec<Diagnostic>) -> Option<Retry> {
    let tries = annotations.asap("proxy-next-upstream-tries").map(str::trim);
    let timeout = annotations.asap("proxy-next-upstream-timeout").map(str::trim);
    let on = annotations.asap("proxy-next-upstream").map(str::trim);
    if tries.is_none() && timeout.is_none() && on.is_none() {
        return None;
    }
    let mut invalid = |key: &str, message: String| {
        diagnostics.push(Diagnostic::warning("InvalidAnnotation", Some(object.clone()), format!("{key}: {message}")))
    };
    let mut retry = Retry {
        attempts: 3,
        per_try_timeout_ms: None,
        on_connect_failure: false,
        on_reset: false,
        on_5xx: true,
        statuses: Vec::new(),
        non_idempotent: false,
    };
    if let Some(tries) = tries {
        match tries.parse::<u32>() {
            Ok(n) => retry.attempts = n,
            Err(_) => invalid("proxy-next-upstream-tries", format!("{tries:?} is not a number; 3 retries are used")),
        }
    }
    if let Some(timeout) = timeout {
        match timeout.parse::<u64>() {
            Ok(0) => {}
            Ok(seconds) => retry.per_try_timeout_ms = Some(seconds * 1000),
            Err(_) => invalid("proxy-next-upstream-timeout", format!("{timeout:?} is not a number of seconds")),
        }
    }
    if let Some(on) = on {
        let conditions: Vec<&str> = if on.contains(',') {
            on.split(',').map(str::trim).filter(|c| !c.is_empty()).collect()
        } else {
            on.split_whitespace().collect()
        };
        if conditions.contains(&"off") {
            retry.attempts = 0;
        } else if !conditions.is_empty() {
            retry.on_5xx = false;
            for condition in &conditions {
                match *condition {
                    "error" | "timeout" | "invalid_header" => retry.on_5xx = true,
                    "non_idempotent" => retry.non_idempotent = true,
                    other => match other.strip_prefix("http_").map(str::parse::<u16>) {
                        Some(Ok(code)) if (100..600).contains(&code) => {
                            if !retry.statuses.contains(&code) {
                                retry.statuses.push(code);
                            }
                        }
                        _ => invalid("proxy-next-upstream", format!("unknown condition {other:?} ignored")),
                    },
                }
            }
            retry.statuses.sort_unstable();
            if !retry.on_5xx && retry.statuses.is_empty() {
                // why: an empty Istio `retryOn` keeps the default conditions (connect failure, 503).
                retry.on_connect_failure = true;
                retry.statuses = vec![503];
            }
        }
    }
    Some(retry)
}
