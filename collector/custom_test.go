package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

// customScraper runs the queries of the given files (and no built-in
// collector) against dsn.
func customScraper(t *testing.T, dsn string, sources ...collector.CustomSource) *scrapetest.Scraper {
	t.Helper()
	return customScraperLog(t, dsn, scrapetest.Logger, sources...)
}

func customScraperLog(t *testing.T, dsn string, logger *slog.Logger, sources ...collector.CustomSource) *scrapetest.Scraper {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := collector.CustomInstances(sources, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return instancesScraper(t, dsn, cfg, logger, ins)
}

// instancesScraper runs ins against dsn with cfg's connection settings.
func instancesScraper(t *testing.T, dsn string, cfg *config.Config, logger *slog.Logger, ins []*collector.Instance) *scrapetest.Scraper {
	t.Helper()
	cc, err := target.ParseDSN("test DSN", dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	tg := target.New("test", cc, cfg, logger)
	t.Cleanup(tg.Close)
	return &scrapetest.Scraper{Target: tg, Scraper: collector.NewScraper(ins, logger), Timeout: 20 * time.Second}
}

const runtimeQueries = `
custom_kinds:
  query: |
    SELECT 'a'::text AS kind, 1.5::float8 AS level, 7::bigint AS events, 'on' AS state,
           '1m30s' AS took, 2::numeric AS exact, now() AS seen
  metrics:
    - kind: {usage: LABEL, description: A label.}
    - level: {usage: GAUGE, description: A gauge.}
    - events: {usage: COUNTER, description: A counter.}
    - state:
        usage: MAPPEDMETRIC
        description: Mapped.
        metric_mapping: {"on": 1, "off": 0}
    - took: {usage: DURATION, description: A duration.}
    - exact: {usage: GAUGE, description: A numeric.}
    - seen: {usage: GAUGE, description: A timestamp.}
custom_histogram:
  query: |
    SELECT 'x' AS app, ARRAY[1, 5, 10] AS wait, ARRAY[2, 3, 4]::bigint[] AS wait_bucket,
           12.5::float8 AS wait_sum, 4::bigint AS wait_count
  metrics:
    - app: {usage: LABEL}
    - wait: {usage: HISTOGRAM, description: A histogram.}
custom_everywhere:
  query: SELECT 1 AS one
  databases: all
  metrics:
    - one: {usage: GAUGE}
custom_listed:
  query: SELECT 1 AS one
  databases: [customdb]
  metrics:
    - one: {usage: GAUGE}
custom_predicate_false:
  query: SELECT 1 AS one
  predicates:
    - SELECT to_regclass('no_such_table') IS NOT NULL
  metrics:
    - one: {usage: GAUGE}
custom_predicate_true:
  query: SELECT 1 AS one
  predicates: SELECT true
  metrics:
    - one: {usage: GAUGE}
custom_replica_only:
  query: SELECT 1 AS one
  replica_only: true
  metrics:
    - one: {usage: GAUGE}
custom_future:
  query: SELECT 1 AS one
  min_version: 990000
  metrics:
    - one: {usage: GAUGE}
custom_null:
  query: SELECT 'r' AS k, NULL::int AS v
  metrics:
    - k: {usage: LABEL}
    - v: {usage: GAUGE}
custom_text:
  query: SELECT 'abc' AS v
  metrics:
    - v: {usage: GAUGE}
custom_dup:
  query: SELECT 'same' AS k, g AS v FROM generate_series(1, 2) AS g
  metrics:
    - k: {usage: LABEL}
    - v: {usage: GAUGE}
custom_many:
  query: SELECT g::text AS k, g AS v FROM generate_series(1, 10005) AS g
  metrics:
    - k: {usage: LABEL}
    - v: {usage: GAUGE}
custom_slow:
  query: SELECT 1 AS v FROM pg_sleep(5)
  timeout: 200ms
  metrics:
    - v: {usage: GAUGE}
custom_missing:
  query: WITH t AS (SELECT 1 AS v) SELECT v FROM t
  metrics:
    - w: {usage: GAUGE}
custom_badsql:
  query: SELECT no_such_column FROM pg_class
  metrics:
    - no_such_column: {usage: GAUGE}
`

// Every usage converts, the database, predicate, role and version settings
// decide where a query runs, and each failure (NULL, text, duplicate rows, too
// many rows, timeout, missing column, SQL error) stays with its own query.
func TestCustomQueriesRun(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.CreateDatabase(ctx, "customdb"); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	sc := customScraperLog(t, s.SuperuserDSN(""), logger, collector.CustomSource{Name: "runtime.yaml", Data: []byte(runtimeQueries)})
	r := sc.Scrape(t)
	// Each failure is logged with the query, the row and column, and what to do.
	for _, want := range []string{
		`custom query custom_null: row 1, column v: is NULL; wrap it in COALESCE(..., 0) or filter such rows out`,
		`custom query custom_text: row 1, column v: is text \"abc\", not a number; cast it in SQL (::float8) or make it a LABEL`,
		`custom query custom_dup: rows 1 and 2 have the same label values (same); add the column that tells them apart as a LABEL`,
		fmt.Sprintf(`custom query custom_many (runtime.yaml:%d): more than 10000 rows; the rest were dropped`, lineOf(t, runtimeQueries, "custom_many:")),
		fmt.Sprintf(`custom query custom_missing (runtime.yaml:%d): column \"w\" listed under metrics is not in the result (v)`, lineOf(t, runtimeQueries, "    - w:")),
		`custom query custom_slow: timed out after 200ms`,
		fmt.Sprintf(`custom query custom_badsql (runtime.yaml:%d): ERROR: column \"no_such_column\" does not exist`, lineOf(t, runtimeQueries, "custom_badsql:")),
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}

	want := map[string]float64{
		"custom_kinds_level":             1.5,
		"custom_kinds_events":            7,
		"custom_kinds_state":             1,
		"custom_kinds_took_milliseconds": 90000,
		"custom_kinds_exact":             2,
		"custom_histogram_wait":          4, // sample count
		"custom_predicate_true_one":      1,
		"custom_listed_one":              1,
	}
	for name, v := range want {
		got := r.Values(name, nil)
		if len(got) != 1 {
			t.Errorf("%s: %d series, want 1\n%s", name, len(got), r.String(name))
			continue
		}
		if got[0] != v {
			t.Errorf("%s = %v, want %v", name, got[0], v)
		}
	}
	if v, _ := r.Value("custom_kinds_seen", nil); time.Since(time.Unix(int64(v), 0)).Abs() > time.Hour {
		t.Errorf("custom_kinds_seen = %v, want a timestamp of now", v)
	}
	if got := r["custom_kinds_events"].GetType().String(); got != "COUNTER" {
		t.Errorf("custom_kinds_events is a %s", got)
	}
	h := r["custom_histogram_wait"].GetMetric()[0].GetHistogram()
	if h.GetSampleSum() != 12.5 || len(h.GetBucket()) != 3 || h.GetBucket()[1].GetUpperBound() != 5 || h.GetBucket()[1].GetCumulativeCount() != 3 {
		t.Errorf("histogram = %v", h)
	}
	// databases: all runs once per discovered database, labelled by datname.
	if n := len(r.Values("custom_everywhere_one", nil)); n < 2 {
		t.Errorf("custom_everywhere_one: %d series, want one per database", n)
	}
	for _, db := range []string{"postgres", "customdb"} {
		if _, ok := r.Value("custom_everywhere_one", map[string]string{"datname": db}); !ok {
			t.Errorf("custom_everywhere_one{datname=%q} missing", db)
		}
	}
	if _, ok := r.Value("custom_listed_one", map[string]string{"datname": "customdb"}); !ok {
		t.Errorf("custom_listed_one runs on customdb only:\n%s", r.String("custom_listed_one"))
	}
	// Queries that do not apply here emit nothing, not even a failure.
	for _, q := range []string{"custom_predicate_false", "custom_replica_only", "custom_future"} {
		if _, ok := r["custom_"+strings.TrimPrefix(q, "custom_")+"_one"]; ok {
			t.Errorf("%s ran", q)
		}
		if vs := r.Values("pg_custom_query_success", map[string]string{"query": q}); len(vs) != 0 {
			t.Errorf("%s reported success %v; it should not run", q, vs)
		}
	}
	// Successes and failures, each query on its own.
	for q, reason := range map[string]string{
		"custom_kinds": "", "custom_histogram": "", "custom_predicate_true": "", "custom_everywhere": "",
		"custom_null": "value", "custom_text": "value", "custom_dup": "value", "custom_many": "row_limit",
		"custom_slow": "timeout", "custom_missing": "columns", "custom_badsql": "sql",
	} {
		want := 1.0
		if reason != "" {
			want = 0
		}
		labels := map[string]string{"query": q}
		if q == "custom_everywhere" {
			labels["datname"] = "postgres"
		}
		if v, ok := r.Value("pg_custom_query_success", labels); !ok || v != want {
			t.Errorf("pg_custom_query_success{query=%q} = %v (present %v), want %v", q, v, ok, want)
		}
		if reason != "" {
			// (the pedantic registry collects twice per gather, so the count is at least 1)
			if v, ok := r.Value("pg_custom_query_errors_total", map[string]string{"query": q, "reason": reason}); !ok || v < 1 {
				t.Errorf("pg_custom_query_errors_total{query=%q,reason=%q} = %v (present %v), want >= 1\n%s", q, reason, v, ok, r.String("pg_custom_query_errors_total"))
			}
			if n := len(r.Values("pg_custom_query_errors_total", map[string]string{"query": q})); n != 1 {
				t.Errorf("query %s has errors of %d reasons, want 1", q, n)
			}
		}
	}
	// A query cut at the row limit still reports the rows it kept.
	if n := len(r.Values("custom_many_v", nil)); n != collector.CustomRowLimit {
		t.Errorf("custom_many_v: %d series, want the row limit %d", n, collector.CustomRowLimit)
	}
	if v, _ := r.Value("pg_custom_query_rows", map[string]string{"query": "custom_many"}); v != collector.CustomRowLimit {
		t.Errorf("pg_custom_query_rows{custom_many} = %v", v)
	}
	// Failed queries emit none of their own metrics.
	for _, name := range []string{"custom_null_v", "custom_text_v", "custom_dup_v", "custom_slow_v", "custom_missing_w"} {
		if _, ok := r[name]; ok {
			t.Errorf("%s emitted although its query failed", name)
		}
	}
	// The framework sees the same outcome per collector instance.
	if v, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "custom.custom_null"}); !ok || v != 0 {
		t.Errorf("pg_scrape_collector_success{custom.custom_null} = %v", v)
	}
	if v, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "custom.custom_kinds"}); !ok || v != 1 {
		t.Errorf("pg_scrape_collector_success{custom.custom_kinds} = %v", v)
	}
	// Error counters accumulate across scrapes.
	before, _ := r.Value("pg_custom_query_errors_total", map[string]string{"query": "custom_null", "reason": "value"})
	r = sc.Scrape(t)
	if v, _ := r.Value("pg_custom_query_errors_total", map[string]string{"query": "custom_null", "reason": "value"}); v <= before {
		t.Errorf("errors_total did not grow: %v then %v", before, v)
	}
}

// lineOf is the 1-based line of text that starts with prefix.
func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return 0
}

// A query with a ttl whose predicate was false stays silent for the ttl
// without running its predicate again (the answer is served like a result),
// and runs once the ttl has passed; a query without a ttl checks its
// predicate on every scrape.
func TestCustomQueryTTLKeepsAFalsePredicate(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.Exec(ctx, "", `DROP TABLE IF EXISTS ttl_gate`); err != nil {
		t.Fatal(err)
	}
	const yml = `
gated_cached:
  query: SELECT 1::float8 AS v FROM ttl_gate LIMIT 1
  ttl: 1h
  predicates: ["SELECT to_regclass('ttl_gate') IS NOT NULL"]
  metrics: [{v: {usage: GAUGE, description: One while ttl_gate exists.}}]
gated_live:
  query: SELECT 1::float8 AS v FROM ttl_gate LIMIT 1
  predicates: ["SELECT to_regclass('ttl_gate') IS NOT NULL"]
  metrics: [{v: {usage: GAUGE, description: One while ttl_gate exists.}}]
`
	sc := customScraper(t, s.SuperuserDSN(""), collector.CustomSource{Name: "ttl.yaml", Data: []byte(yml)})
	present := func(r families.Result, name string) bool {
		_, ok := r.Value(name, nil)
		return ok
	}
	r := sc.Scrape(t)
	if present(r, "gated_cached_v") || present(r, "gated_live_v") {
		t.Fatal("a query reported although its predicate is false")
	}
	if err := s.Exec(ctx, "", `CREATE TABLE ttl_gate AS SELECT 1 AS id`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Exec(ctx, "", `DROP TABLE IF EXISTS ttl_gate`) })
	r = sc.Scrape(t)
	if !present(r, "gated_live_v") {
		t.Error("the query without a ttl did not check its predicate again")
	}
	if present(r, "gated_cached_v") {
		t.Error("the query with a ttl of 1h checked its predicate again within it")
	}
	if _, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "custom.gated_cached"}); ok {
		t.Error("the remembered false predicate reported a success series; a query that does not apply reports none")
	}
	// A fresh scraper has nothing remembered: the predicate runs.
	fresh := customScraper(t, s.SuperuserDSN(""), collector.CustomSource{Name: "ttl.yaml", Data: []byte(yml)})
	if r := fresh.Scrape(t); !present(r, "gated_cached_v") {
		t.Error("the query with a ttl did not run once nothing was remembered")
	}
}

// A predicate goes to the server with the BEGIN of its query's transaction;
// what it answers means what it did when it ran alone: a first row with one
// true boolean runs the query, false or NULL keeps it silent, and no row,
// another shape or an SQL error fail it, leaving the session fit for the
// next query.
func TestCustomQueryPredicateAnswers(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	var yml strings.Builder
	cases := map[string]struct {
		preds []string
		want  string // "runs", "silent" or "fails"
	}{
		"p_true":          {[]string{"SELECT true"}, "runs"},
		"p_first_of_many": {[]string{"SELECT g = 1 FROM generate_series(1, 5000) g ORDER BY g"}, "runs"},
		"p_false":         {[]string{"SELECT false"}, "silent"},
		"p_null":          {[]string{"SELECT NULL::bool"}, "silent"},
		"p_second_false":  {[]string{"SELECT true", "SELECT false"}, "silent"},
		"p_no_row":        {[]string{"SELECT true WHERE false"}, "fails"},
		"p_two_columns":   {[]string{"SELECT true, true"}, "fails"},
		"p_not_boolean":   {[]string{"SELECT 1"}, "fails"},
		"p_sql_error":     {[]string{"SELECT 1/0 = 1"}, "fails"},
		"p_second_error":  {[]string{"SELECT true", "SELECT no_such_column"}, "fails"},
	}
	for name, c := range cases {
		fmt.Fprintf(&yml, "%s:\n  query: SELECT 1::float8 AS v\n  predicates: [%s]\n  metrics: [{v: {usage: GAUGE, description: One.}}]\n",
			name, strings.Join(quoted(c.preds), ", "))
	}
	var logs bytes.Buffer
	cfg, err := config.Parse("one.yml", []byte("connection:\n  max_connections: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	ins, err := collector.CustomInstances([]collector.CustomSource{{Name: "preds.yaml", Data: []byte(yml.String())}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := instancesScraper(t, s.SuperuserDSN(""), cfg, slog.New(slog.NewTextHandler(&logs, nil)), ins)
	for range 2 {
		r := sc.Scrape(t)
		if up, _ := r.Value("pg_up", nil); up != 1 {
			t.Fatal("pg_up is not 1")
		}
		for name, c := range cases {
			v, ran := r.Value(name+"_v", nil)
			ok, reported := r.Value("pg_custom_query_success", map[string]string{"query": name})
			switch got := map[bool]string{true: "runs", false: "silent"}[ran && v == 1]; {
			case c.want == "fails" && (!reported || ok != 0 || ran):
				t.Errorf("%s: success %v (reported %v), value present %v; want a failure", name, ok, reported, ran)
			case c.want != "fails" && got != c.want:
				t.Errorf("%s: %s (success %v, reported %v), want it to be %s", name, got, ok, reported, c.want)
			}
		}
	}
	for name, c := range cases {
		said := false
		for _, l := range strings.Split(logs.String(), "\n") {
			said = said || strings.Contains(l, "custom query "+name+":") && strings.Contains(l, "a predicate must return one row with one boolean")
		}
		if said != (c.want == "fails") {
			t.Errorf("%s: a log line says what a predicate must return: %v, want %v", name, said, c.want == "fails")
		}
	}
	if n := sc.Target.Pool.Stats().Connects; n != 1 {
		t.Errorf("%d connections opened; a failed predicate must leave its session usable", n)
	}
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = `"` + s + `"`
	}
	return out
}
