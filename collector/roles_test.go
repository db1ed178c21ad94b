package collector_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
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
	// Some families exist only while something happens on the server (an open
	// transaction, a running VACUUM), and other tests' sessions come and go:
	// a real privilege gap shows in every attempt, a passing moment in one.
	var only []string
	for attempt := 0; attempt < 5; attempt++ {
		a, b := super.Scrape(t), mon.Scrape(t)
		a.RequireUp(t)
		b.RequireUp(t)
		// A sequence's position is readable only with SELECT or USAGE on it (or
		// pg_read_all_data); pg_monitor alone sees how many it may not read.
		if _, ok := a["pg_sequence_used_ratio"]; ok {
			if b.Sum("pg_sequences_unreadable", nil) == 0 {
				t.Error("the pg_monitor-only role reads no sequence, yet pg_sequences_unreadable is 0")
			}
			delete(a, "pg_sequence_used_ratio")
		}
		// PostgreSQL grants pg_file_settings and pg_hba_file_rules to
		// superusers only: the pg_monitor role says so instead of counting.
		for fam, view := range map[string]string{"pg_settings_file_errors": "pg_file_settings", "pg_hba_file_rules_errors": "pg_hba_file_rules"} {
			if _, ok := a[fam]; !ok {
				continue
			}
			if v, ok := b.Value("pg_config_files_readable", map[string]string{"view": view}); !ok || v != 0 {
				t.Errorf("the pg_monitor-only role reports %s readable (%v, present %v)", view, v, ok)
			}
			delete(a, fam)
		}
		if only = symmetricDifference(a.Names(), b.Names()); len(only) == 0 {
			break
		}
		t.Logf("attempt %d: families differ: %v", attempt+1, only)
		sleep(200)
	}
	if len(only) > 0 {
		t.Fatalf("families differ between the superuser and the pg_monitor-only scrape in 5 attempts: %v", only)
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

// symmetricDifference lists the names in only one of a and b, each marked
// with the side it is on.
func symmetricDifference(a, b []string) []string {
	in := map[string]int{}
	for _, n := range a {
		in[n] |= 1
	}
	for _, n := range b {
		in[n] |= 2
	}
	var out []string
	for n, sides := range in {
		switch sides {
		case 1:
			out = append(out, "superuser only: "+n)
		case 2:
			out = append(out, "pg_monitor only: "+n)
		}
	}
	sort.Strings(out)
	return out
}
