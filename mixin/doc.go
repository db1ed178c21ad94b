// Package mixin renders the operational pack that ships beside the exporter:
// recording rules, alerting rules and SLO burn-rate alerts, from one
// configuration of thresholds, durations, selectors and the runbook base URL.
// The committed rules/ directory is this package's output for Defaults();
// a golden test keeps the two equal.
package mixin
