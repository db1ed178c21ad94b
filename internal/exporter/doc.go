// Package exporter puts the exporter together and serves it. One path builds
// it from the command line's Settings and a configuration (built-in
// collectors, custom queries including the built-in queries.yaml,
// PgBouncers, backup sources): Load checks it without starting anything,
// New (or NewFromConfig, for a configuration already loaded) starts it, and
// the Reloader rebuilds it the same way on SIGHUP or /-/reload. main,
// check-config, the tests and the benchmark all use them. The HTTP side serves /metrics for the default target
// and the exporter itself, /probe for any configured target, reload, health
// and readiness, carrying each scrape's deadline, taken from Prometheus's
// X-Prometheus-Scrape-Timeout-Seconds header, down to every query.
package exporter
