package mixin

import (
	"fmt"
	"strings"
)

// Example renders the default configuration as a commented YAML file: every
// setting with its default value, every alert with its thresholds.
func Example() []byte {
	c := Defaults()
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }
	p("# Configuration of `pg_hardening_exporter mixin`. Every value shown is the default;")
	p("# keep only what you change. Render with:")
	p("#   pg_hardening_exporter mixin --mixin.config=mixin.yml --mixin.output=DIR")
	p("")
	p("# Label matchers (without braces) added to every metric selector; empty adds none.")
	p("# pgbouncer_* and pg_backup_* series come from whichever job scrapes the")
	p("# exporter that is configured with pgbouncers or backup sources (postgres when")
	p("# scraped directly, its own job beside /probe; pgbouncer_* also from")
	p("# pgbouncer_exporter), so none are needed there.")
	p("selectors:")
	p("  postgres: %s", quote(c.Selectors.Postgres))
	p("  pgbouncer: %s", quote(c.Selectors.PgBouncer))
	p("  backup: %s", quote(c.Selectors.Backup))
	p("# The exporter's own series (pg_exporter_*) find it under any job name.")
	p("  exporter: %s", quote(c.Selectors.Exporter))
	p("# Labels that identify one server in every aggregation.")
	p("aggregation_labels: [%s]", strings.Join(c.AggregationLabels, ", "))
	p("# Target labels Alertmanager routes on (cluster, env, team, ...): every recording")
	p("# rule and alert keeps them. Series without such a label simply lack it.")
	p("routing_labels: [%s]", strings.Join(c.RoutingLabels, ", "))
	p("# Label that groups a primary with its replicas (split-brain detection).")
	p("cluster_label: %s", c.ClusterLabel)
	p("# Base of every runbook_url; /<AlertName>.md is appended.")
	p("runbook_url: %s", c.RunbookURL)
	p("")
	p("# Service level objectives, alerted by multi-window burn rates: page (critical)")
	p("# at 14.4x over 1h and 5m or 6x over 6h and 30m, ticket (warning) at 3x over")
	p("# 1d and 2h or 1x over 3d and 6h. Latency objectives are shares of statement")
	p("# calls within 100 ms (latency_p95) and 500 ms (latency_p99).")
	p("slo:")
	p("  availability: %s", num(c.SLO.Availability))
	p("  latency_p95: %s", num(c.SLO.LatencyP95))
	p("  latency_p99: %s", num(c.SLO.LatencyP99))
	p("  page_for: %s", c.SLO.PageFor)
	p("  ticket_for: %s", c.SLO.TicketFor)
	p("")
	p("# Per-alert settings: disabled, for, and the thresholds of the tiers the alert")
	p("# has (info, warning, critical; the tiers share the alert's name) plus min, its")
	p("# guard. Thresholds are numbers or durations (which stand for seconds). The")
	p("# capacity forecasts compare with each server's own limits; plan adds an")
	p("# absolute figure from a capacity plan.")
	p("alerts:")
	for _, g := range alertGroups {
		for _, s := range g.alerts {
			p("  # %s", s.Help)
			p("  %s:", s.Name)
			p("    for: %s", mustDuration(s.For))
			for _, t := range []struct {
				key string
				v   *float64
			}{{"info", s.Info}, {"warning", s.Warning}, {"critical", s.Critical}, {"min", s.Min}} {
				if t.v != nil {
					p("    %s: %s", t.key, num(*t.v))
				}
			}
			if s.Plan != "" {
				p("    # plan: unset (an absolute figure, in %s, to alert on as well)", s.Plan)
			}
		}
	}
	return []byte(w.String())
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func mustDuration(s string) string {
	var d Duration
	if err := d.UnmarshalYAML(scalar(s)); err != nil {
		panic(err)
	}
	return d.String()
}
