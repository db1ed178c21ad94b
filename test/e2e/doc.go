// Package e2e holds end-to-end tests: a real Prometheus evaluating the
// generated rules while it scrapes the exporter on a real PostgreSQL, with
// real conditions created on the server.
package e2e
