// Package metricsdoc renders docs/metrics.md from the descriptors the
// collectors register, so the page cannot drift from the code.
package metricsdoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// Render returns the markdown of docs/metrics.md.
func Render() []byte {
	var b bytes.Buffer
	b.WriteString("# Metrics\n\n")
	b.WriteString("Generated from the exporter's descriptors by `make generate` (`go test ./internal/metricsdoc -update`); a test keeps it equal to the code.\n\n")
	b.WriteString("Every PostgreSQL metric below comes with the framework's own `pg_up`, `pg_scrape_collector_success` and `pg_scrape_collector_duration_seconds`. ")
	b.WriteString("Versions say which PostgreSQL majors have the source; a collector whose predicates do not hold on a server is skipped there and emits nothing.\n\n")

	served, collectors := exporter.Families()
	receiver := exporter.FamilyGroup{Title: "Remediation receiver", Intro: "Emitted by `pg_hardening_exporter remediate` on the receiver's own `/metrics` (not the exporter's), with its Go runtime and process metrics (docs/remediation.md describes the receiver).", Metrics: remediate.Metrics()}
	for _, g := range append(append(served, receiver), collectors...) {
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", g.Title, g.Intro)
		table(&b, g.Metrics)
	}
	return b.Bytes()
}

func table(b *bytes.Buffer, ms []*metric.Metric) {
	b.WriteString("| name | type | labels | source | versions | help |\n|---|---|---|---|---|---|\n")
	for _, m := range ms {
		labels := strings.Join(m.Labels, ", ")
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n", m.Name, m.TypeName(), labels, m.Source, m.Versions, strings.ReplaceAll(m.Help, "|", "\\|"))
	}
	b.WriteString("\n")
}

// All returns every metric family the exporter can emit, from every place
// that declares them: the scrape framework, the exporter itself, custom
// queries, PgBouncer, backup sources, each collector, and the remediation
// receiver (served by its own process). Rule and dashboard tests check their
// expressions against it.
func All() []*metric.Metric {
	served, collectors := exporter.Families()
	out := remediate.Metrics()
	for _, g := range append(served, collectors...) {
		out = append(out, g.Metrics...)
	}
	return out
}
