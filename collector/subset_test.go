package collector_test

import (
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// Subset checks a request's collect[] or exclude[] names against the
// collectors this exporter runs, and says which to use instead.
func TestSubsetAcceptsEnabledCollectorsOnly(t *testing.T) {
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := collector.Build([]string{"tables", "indexes"}, collector.Options{Config: cfg, Logger: scrapetest.Logger})
	if err != nil {
		t.Fatal(err)
	}
	secret := collector.UncheckedCustomInstance("tenant_billing", "SELECT 1 AS v")
	sc := collector.NewScraper(append(ins, secret), scrapetest.Logger)
	if only, err := sc.Subset([]string{secret.Spec.Name}, nil); err != nil || !only[secret.Spec.Name] {
		t.Errorf("collect[]=%s: %v %v", secret.Spec.Name, only, err)
	}
	if _, err := sc.Subset([]string{"nope"}, nil); err == nil || strings.Contains(err.Error(), "tenant_billing") {
		t.Errorf("the refusal names a custom query, which is the operator's configuration: %v", err)
	}
	if only, err := sc.Subset(nil, nil); err != nil || only != nil {
		t.Errorf("no names: %v %v, want every collector (nil)", only, err)
	}
	only, err := sc.Subset([]string{"tables", "tables"}, nil)
	if err != nil || len(only) != 1 || !only["tables"] {
		t.Errorf("tables twice: %v %v", only, err)
	}
	if only, err := sc.Subset(nil, []string{"indexes"}); err != nil || len(only) != 2 || !only["tables"] || !only[secret.Spec.Name] {
		t.Errorf("exclude[]=indexes: %v %v, want tables and the custom query", only, err)
	}
	if only, err := sc.Subset(nil, []string{"indexes", "tables", secret.Spec.Name}); err != nil || only == nil || len(only) != 0 {
		t.Errorf("everything excluded: %v %v, want an empty set (not nil, which is every collector)", only, err)
	}
	if _, err := sc.Subset([]string{"tables"}, []string{"indexes"}); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("collect[] with exclude[]: %v", err)
	}
	for _, c := range []struct{ name, want string }{
		{"stat_slru", `collect[]="stat_slru": that collector is not enabled on this exporter; enable it with --collector.stat_slru or leave it out`},
		{"Tables", `collect[]="Tables": no enabled collector has that name; the enabled built-in ones are indexes, tables (custom queries are custom.<name>)`},
		{strings.Repeat("a", 100), `collect[]="` + strings.Repeat("a", 64) + `...": no enabled collector`},
		{"bad\nname", `collect[]="bad\nname": no enabled`},
	} {
		_, err := sc.Subset([]string{"indexes", c.name}, nil)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%.20q: %v, want %q", c.name, err, c.want)
		}
		_, err = sc.Subset(nil, []string{c.name})
		if want := strings.Replace(c.want, "collect[]", "exclude[]", 1); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("exclude[] %.20q: %v, want %q", c.name, err, want)
		}
	}
}
