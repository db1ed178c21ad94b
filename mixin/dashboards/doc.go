// Package dashboards builds the Grafana dashboards that ship in dashboards/
// from a small configuration of selectors and thresholds, the same numbers the
// rule pack alerts on, so that every threshold an alert fires at is drawn on
// the panel that shows the series it fires on.
//
// Render returns each dashboard's file name and JSON. Every metric and label
// the dashboards read is named once, in metrics.go; the alert-to-panel table
// is in alerts.go. The tests check the JSON against Grafana's schema (through
// the foundation SDK), a rewritten set of the dashboard linter's rules, the
// exporter's declared metrics, and a real Prometheus scraping the exporter.
package dashboards
