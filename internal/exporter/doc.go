// Package exporter serves the exporter's HTTP endpoints: /metrics for the
// default target and the exporter itself, /probe for any configured target,
// reload, health and readiness. It carries each scrape's deadline, taken from
// Prometheus's X-Prometheus-Scrape-Timeout-Seconds header, down to every query.
package exporter
