package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPoolMatching(t *testing.T) {
	cfg, err := Parse("p.yml", []byte(`
pools:
  - name: api-admin
    application_name: api
    user: admin
    min_connections: 1
    max_connections: 2
  - name: api
    application_name: api
    min_connections: 5
    max_connections: 20
  - name: workers
    application_name_regex: 'worker-[0-9]+'
    database: jobs
    max_connections: 10
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		app, user, db, want string
	}{
		{"api", "admin", "app", "api-admin"}, // the earlier, narrower pool wins
		{"api", "web", "app", "api"},
		{"API", "web", "app", ""}, // exact match is case-sensitive
		{"api-2", "web", "app", ""},
		{"worker-17", "jobs", "jobs", "workers"},
		{"worker-17", "jobs", "app", ""},      // wrong database
		{"my-worker-17", "jobs", "jobs", ""},  // the pattern is anchored at the start
		{"worker-17-old", "jobs", "jobs", ""}, // and at the end
		{"worker-", "jobs", "jobs", ""},       // needs a digit
		{"", "web", "app", ""},                // no application_name
		{"pg_hardening_exporter", "x", "y", ""},
	} {
		got := ""
		if i := MatchPool(cfg.Pools, tc.app, tc.user, tc.db); i >= 0 {
			got = cfg.Pools[i].Name
		}
		if got != tc.want {
			t.Errorf("MatchPool(%q, %q, %q) = %q, want %q", tc.app, tc.user, tc.db, got, tc.want)
		}
	}
	if p := cfg.Pools[1]; p.Line != 8 || p.MinConnections != 5 || p.MaxConnections != 20 {
		t.Errorf("pool api decoded as %+v", p)
	}
}

func TestPoolErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"pools:\n  - name: a\n    max_connections: 3\n", `p.yml:2: pool "a" needs application_name or application_name_regex`},
		{"pools:\n  - name: a\n    application_name: a\n    application_name_regex: a\n    max_connections: 3\n", `p.yml:2: pool "a" sets both application_name and application_name_regex; keep one`},
		{"pools:\n  - name: a\n    application_name_regex: '('\n    max_connections: 3\n", `p.yml:2: pool "a": application_name_regex "(" is not a valid regular expression`},
		{"pools:\n  - name: a\n    application_name: a\n", `p.yml:2: pool "a" has max_connections 0; set it to the pool's size`},
		{"pools:\n  - name: a\n    application_name: a\n    min_connections: 9\n    max_connections: 3\n", `p.yml:2: pool "a" has min_connections 9; use 0 to max_connections (3)`},
		{"pools:\n  - name: a\n    application_name: a\n    max_connections: 3\n  - name: a\n    application_name: b\n    max_connections: 3\n", `p.yml:5: pool "a" is defined twice (first at line 2)`},
		{"pools:\n  - name: 'a b'\n    application_name: a\n    max_connections: 3\n", `p.yml:2: pool name "a b" must be 1-63 letters`},
		{"pools:\n  - name: a\n    application: a\n    max_connections: 3\n", `p.yml:3: unknown key "application" in pools`},
		{"activity:\n  long_transaction_threshold: -1s\n", `p.yml:2: activity.long_transaction_threshold must not be negative`},
		{"activity:\n  max_label_sets: -2\n", `p.yml:2: activity.max_label_sets is -2; use 1 to 10000`},
		{"activity:\n  max_wait_events: 10001\n", `p.yml:2: activity.max_wait_events is 10001; use 1 to 10000`},
		{"activity:\n  max_labels: 2\n", `p.yml:2: unknown key "max_labels"`},
	} {
		_, err := Parse("p.yml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.src, err, tc.want)
		}
	}
}

func TestActivityDefaults(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Activity.LongTransactionThreshold != 30*time.Second || cfg.Activity.MaxLabelSets != 100 || cfg.Activity.MaxWaitEvents != 20 {
		t.Fatalf("activity defaults: %+v", cfg.Activity)
	}
	cfg, err = Parse("a.yml", []byte("activity:\n  long_transaction_threshold: 1s\n  max_label_sets: 7\n  max_wait_events: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Activity.LongTransactionThreshold != time.Second || cfg.Activity.MaxLabelSets != 7 || cfg.Activity.MaxWaitEvents != 3 {
		t.Fatalf("activity settings: %+v", cfg.Activity)
	}
	// 0 means the default, as when the key is left out.
	cfg, err = Parse("a.yml", []byte("activity:\n  long_transaction_threshold: 0s\n  max_label_sets: 0\n  max_wait_events: 0\n"))
	if err != nil || cfg.Activity.LongTransactionThreshold != DefaultLongTransactionThreshold || cfg.Activity.MaxLabelSets != DefaultMaxLabelSets ||
		cfg.Activity.MaxWaitEvents != DefaultMaxWaitEvents {
		t.Fatalf("activity with zeroes: %v, %+v", err, cfg)
	}
}

// The shipped example holds five service pools.
func TestExamplePools(t *testing.T) {
	data, err := os.ReadFile("../../examples/exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("examples/exporter.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{"api": {5, 20}, "data-service": {5, 15}, "background-jobs": {2, 10}, "analytics": {2, 5}, "batch-operations": {3, 8}}
	if len(cfg.Pools) != len(want) {
		t.Fatalf("example has %d pools, want %d", len(cfg.Pools), len(want))
	}
	for _, p := range cfg.Pools {
		w, ok := want[p.Name]
		if !ok || p.MinConnections != w[0] || p.MaxConnections != w[1] {
			t.Errorf("example pool %s: min %d max %d", p.Name, p.MinConnections, p.MaxConnections)
		}
		if MatchPool(cfg.Pools, p.Name, "app", "app") < 0 {
			t.Errorf("example pool %s does not match application_name %q", p.Name, p.Name)
		}
	}
}

func FuzzPools(f *testing.F) {
	f.Add([]byte("pools:\n  - name: api\n    application_name: api\n    max_connections: 20\n"), "api", "u", "d")
	f.Add([]byte("pools:\n  - {name: w, application_name_regex: 'w-[0-9]+', user: u, max_connections: 2, min_connections: 1}\n"), "w-1", "u", "d")
	f.Add([]byte("activity: {long_transaction_threshold: 2s, max_label_sets: 5}\n"), "", "", "")
	f.Fuzz(func(t *testing.T, data []byte, app, user, db string) {
		cfg, err := Parse("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range cfg.Pools {
			if p.MaxConnections < 1 || p.MinConnections < 0 || p.MinConnections > p.MaxConnections {
				t.Fatalf("accepted pool %+v", p)
			}
			if (p.ApplicationName == "") == (p.ApplicationNameRegex == "") {
				t.Fatalf("accepted pool without exactly one way to match: %+v", p)
			}
		}
		if i := MatchPool(cfg.Pools, app, user, db); i >= len(cfg.Pools) {
			t.Fatalf("MatchPool returned %d for %d pools", i, len(cfg.Pools))
		}
		if cfg.Activity.LongTransactionThreshold <= 0 || cfg.Activity.MaxLabelSets < 1 || cfg.Activity.MaxWaitEvents < 1 {
			t.Fatalf("accepted activity %+v", cfg.Activity)
		}
	})
}
