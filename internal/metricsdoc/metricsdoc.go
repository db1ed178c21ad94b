// Package metricsdoc renders docs/metrics.md from the descriptors the
// collectors register, so the page cannot drift from the code.
package metricsdoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/backup"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/pgbouncer"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// Render returns the markdown of docs/metrics.md.
func Render() []byte {
	var b bytes.Buffer
	b.WriteString("# Metrics\n\n")
	b.WriteString("Generated from the exporter's descriptors by `make generate` (`go test ./internal/metricsdoc -update`); a test keeps it equal to the code.\n\n")
	b.WriteString("Every PostgreSQL metric below comes with the framework's own `pg_up`, `pg_scrape_collector_success` and `pg_scrape_collector_duration_seconds`. ")
	b.WriteString("Versions say which PostgreSQL majors have the source; a collector whose predicates do not hold on a server is skipped there and emits nothing.\n\n")

	b.WriteString("## Scrape meta-metrics\n\nEmitted on `/metrics` (default target) and `/probe`.\n\n")
	table(&b, collector.MetaMetrics())

	b.WriteString("## Exporter\n\nEmitted on `/metrics` only, with the Go runtime and process metrics (`go_*`, `process_*`).\n\n")
	table(&b, exporter.SelfMetrics())

	b.WriteString("## Custom queries\n\nOne series per query of the loaded queries.yaml files (and per database, for queries that run on several); the queries' own metrics are named `<query>_<column>` (see docs/queries.md).\n\n")
	table(&b, collector.CustomQueryMetrics())

	b.WriteString("## PgBouncer\n\nEmitted on `/metrics` for every PgBouncer of the config file's `pgbouncers` section, labelled by its name. Versions are PgBouncer's; a column an older PgBouncer lacks is left out.\n\n")
	table(&b, pgbouncer.Metrics())

	b.WriteString("## Backup sources\n\nEmitted on `/metrics` only, one set per entry of `backup_sources` in the configuration file (docs/backup-manifest.md describes the manifest format).\n\n")
	table(&b, backup.Metrics())

	b.WriteString("## Remediation receiver\n\nEmitted by `pg_hardening_exporter remediate` on the receiver's own `/metrics` (not the exporter's), with its Go runtime and process metrics (docs/remediation.md describes the receiver).\n\n")
	table(&b, remediate.Metrics())

	for _, s := range collector.Specs() {
		fmt.Fprintf(&b, "## Collector `%s`\n\n", s.Name)
		state := "disabled by default (`--collector.%s` enables it)"
		if s.Default {
			state = "enabled by default (`--no-collector.%s` disables it)"
		}
		fmt.Fprintf(&b, "%s. Scope: %s, %s.", s.Help, s.Scope, fmt.Sprintf(state, s.Name))
		if s.MinVersion > 0 {
			fmt.Fprintf(&b, " Needs server_version_num >= %d.", s.MinVersion)
		}
		if s.Extension != "" {
			fmt.Fprintf(&b, " Needs the `%s` extension.", s.Extension)
		}
		if s.TTL > 0 {
			fmt.Fprintf(&b, " Cached for %s by default (`collectors.%s.ttl`).", s.TTL, s.Name)
		}
		b.WriteString("\n\n")
		table(&b, s.Metrics)
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
	var out []*metric.Metric
	out = append(out, collector.MetaMetrics()...)
	out = append(out, exporter.SelfMetrics()...)
	out = append(out, collector.CustomQueryMetrics()...)
	out = append(out, pgbouncer.Metrics()...)
	out = append(out, backup.Metrics()...)
	out = append(out, remediate.Metrics()...)
	for _, s := range collector.Specs() {
		out = append(out, s.Metrics...)
	}
	return out
}
