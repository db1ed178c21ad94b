package collector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/scrapetest"
)

// Every collector, scraped as a superuser and as a role that holds only
// pg_monitor, yields the same families, no failures, and no promlint problems.
func TestAllCollectorsSuperuserAndMonitorRole(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	monDSN, err := s.CreateMonitorRole(ctx, "monitor_only", "monpw")
	if err != nil {
		t.Fatal(err)
	}
	super := scrapetest.New(t, s.SuperuserDSN(""), nil, productCollectors()...)
	mon := scrapetest.New(t, monDSN, nil, productCollectors()...)
	a, b := super.Scrape(t), mon.Scrape(t)
	a.RequireUp(t)
	b.RequireUp(t)
	if an, bn := strings.Join(a.Names(), "\n"), strings.Join(b.Names(), "\n"); an != bn {
		t.Fatalf("families differ\nsuperuser:\n%s\n\npg_monitor:\n%s", an, bn)
	}
	for _, sc := range []*scrapetest.Scraper{super, mon} {
		if problems := sc.Lint(t); len(problems) > 0 {
			t.Errorf("promlint: %v", problems)
		}
	}
}

// Every family a scrape emits is declared by a collector (and so listed in
// docs/metrics.md).
func TestEmittedFamiliesAreDeclared(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	declared := map[string]bool{}
	var patterns []string
	for _, m := range collector.MetaMetrics() {
		declared[m.Name] = true
	}
	for _, m := range exporter.SelfMetrics() {
		declared[m.Name] = true
	}
	for _, sp := range collector.Specs() {
		for _, m := range sp.Metrics {
			if m.Pattern {
				patterns = append(patterns, m.Name[:strings.Index(m.Name, "<")])
			} else {
				declared[m.Name] = true
			}
		}
	}
	r := scrapetest.New(t, s.SuperuserDSN(""), nil, productCollectors()...).Scrape(t)
	r.RequireUp(t)
next:
	for _, name := range r.Names() {
		if declared[name] {
			continue
		}
		for _, p := range patterns {
			if strings.HasPrefix(name, p) {
				continue next
			}
		}
		t.Errorf("%s is emitted but no collector declares it", name)
	}
}

// productCollectors are the registered collectors less the ones this test
// binary registers to exercise the framework.
func productCollectors() []string {
	var out []string
	for _, sp := range collector.Specs() {
		if !strings.HasPrefix(sp.Name, "test_") {
			out = append(out, sp.Name)
		}
	}
	return out
}
