//! Controller metrics: configuration reloads, failed reloads (some input rejected) and the current number
//! of diagnostics by severity. Registered once per instance; the registry adds the `instance` label.

use oxigress_objects::{Diagnostic, Severity};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Label of the diagnostics gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabel {
    severity: &'static str,
}

/// The controller's metrics.
#[derive(Clone, Default)]
pub struct ControllerMetrics {
    reloads: Counter,
    reload_failures: Counter,
    diagnostics: Family<SeverityLabel, Gauge>,
}

impl ControllerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register("oxigress_config_reloads", "Configuration translations", metrics.reloads.clone());
        registry.register(
            "oxigress_config_reload_failures",
            "Translations where some input was rejected (its last good version kept serving)",
            metrics.reload_failures.clone(),
        );
        registry.register("oxigress_diagnostics", "Current diagnostics by severity", metrics.diagnostics.clone());
        metrics
    }

    /// Translations so far.
    #[cfg(test)]
    pub(crate) fn reloads(&self) -> u64 {
        self.reloads.get()
    }

    pub(crate) fn record_reload(&self, failed: bool, diagnostics: &[Diagnostic]) {
        self.reloads.inc();
        if failed {
            self.reload_failures.inc();
        }
        for (severity, name) in [(Severity::Warning, "warning"), (Severity::Error, "error")] {
            let count = diagnostics.iter().filter(|d| d.severity == severity).count();
            self.diagnostics.get_or_create(&SeverityLabel { severity: name }).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}
