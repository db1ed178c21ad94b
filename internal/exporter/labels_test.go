package exporter_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

const labelsQuery = `app_sessions:
  query: SELECT usename, count(*)::float8 AS n FROM pg_stat_activity WHERE usename IS NOT NULL GROUP BY usename
  metrics:
    - usename: {usage: LABEL}
    - n: {usage: GAUGE}
`

// Constant labels from the file (global and per target) and the command
// line are on every series of /metrics (the exporter's own included) and
// /probe, custom queries' and the per-object families' too, and the text
// is clean for promtool check metrics.
func TestConstantLabelsOnEverySeries(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	dir := t.TempDir()
	queries := filepath.Join(dir, "queries.yaml")
	if err := os.WriteFile(queries, []byte(labelsQuery), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "exporter.yml")
	cfgText := "constant_labels:\n  env: prod\n  region: from-file\ntargets:\n  - name: db\n    dsn: " + s.SuperuserDSN("") +
		"\n    constant_labels: {cluster: orders}\n"
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	settings := exporter.Settings{ConfigFile: path, Collectors: exporter.DefaultCollectors(), QueryPaths: []string{queries},
		ConstantLabels: config.ConstantLabels{"region": "eu"}, Default: mustConn(t, s.SuperuserDSN("")), Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: 5 * time.Second, Max: time.Minute}}
	exp, err := exporter.New(settings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	hs := httptest.NewServer(exp.Server.Routes("/metrics", exp.Reloader, nil))
	t.Cleanup(hs.Close)
	h := &harness{http: hs}

	for path, want := range map[string]map[string]string{
		"/metrics":         {"env": "prod", "region": "eu"},
		"/probe?target=db": {"env": "prod", "region": "eu", "cluster": "orders"},
	} {
		code, mfs, body, _ := h.get(t, path, 5*time.Second)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		for _, fam := range []string{"pg_up", "pg_stat_database_xact_commit_total", "app_sessions_n", "pg_stat_user_tables_seq_scan_total", "pg_stat_user_indexes_idx_scan_total"} {
			if _, ok := mfs[fam]; !ok {
				t.Errorf("%s: no %s", path, fam)
			}
		}
		series := 0
		for name, mf := range mfs {
			for _, m := range mf.GetMetric() {
				series++
				have := map[string]string{}
				for _, lp := range m.GetLabel() {
					have[lp.GetName()] = lp.GetValue()
				}
				for k, v := range want {
					if have[k] != v {
						t.Fatalf("%s: %s%v lacks %s=%q", path, name, have, k, v)
					}
				}
				if path == "/metrics" && have["cluster"] != "" {
					t.Fatalf("/metrics: %s has the probe target's label cluster", name)
				}
			}
		}
		if series < 100 {
			t.Fatalf("%s: only %d series", path, series)
		}
		promtoolCheck(t, path, body)
	}
}

// A constant label that is not a valid name, or that a served series
// already has, is refused with where it was set.
func TestConstantLabelsRefused(t *testing.T) {
	dir := t.TempDir()
	queries := filepath.Join(dir, "queries.yaml")
	if err := os.WriteFile(queries, []byte(labelsQuery), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		flag  config.ConstantLabels
		wants []string
	}{
		{"constant_labels:\n  env: prod\n  datname: x\n", nil,
			[]string{":3: constant label \"datname\" is already a label of pg_"}},
		{"constant_labels:\n  usename: x\n", nil,
			[]string{":2: constant label \"usename\" is already a label of ", "usename"}},
		{"targets:\n  - name: db\n    dsn: postgres://u@h/db\n    constant_labels: {le: x}\n", nil,
			[]string{":2: target \"db\": constant label \"le\" is already a label of every histogram"}},
		{"", config.ConstantLabels{"state": "x"}, []string{"--constant-labels: constant label \"state\" is already a label of pg_"}},
		{"constant_labels:\n  1bad: x\n  __meta: y\n  empty: ''\n", nil, []string{
			":2: constant_labels: \"1bad\" is not a valid label name",
			":3: constant_labels: \"__meta\" starts with \"__\"",
			":4: constant_labels: \"empty\" has an empty value"}},
	} {
		path := filepath.Join(dir, "exporter.yml")
		if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := exporter.Load(exporter.Settings{ConfigFile: path, Collectors: exporter.DefaultCollectors(),
			QueryPaths: []string{queries}, ConstantLabels: tc.flag, Logger: quiet})
		if err == nil {
			t.Errorf("%q %v: accepted", tc.file, tc.flag)
			continue
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q %v: error lacks %q:\n%v", tc.file, tc.flag, w, err)
			}
		}
	}
}
