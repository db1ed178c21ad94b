package collector_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/collector"
)

// markedLine is the 1-based line of the first line holding "#ERR".
func markedLine(t *testing.T, text string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "#ERR") {
			return i + 1
		}
	}
	t.Fatalf("no #ERR marker in\n%s", text)
	return 0
}

var allBuiltins = []string{"database", "postmaster", "settings"}

// Each validation error names the file and the line of the offending entry,
// says what is wrong and what to do.
func TestCustomQueriesValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
		enabled          []string
	}{
		{"unknown query key", `
q:
  query: SELECT 1 AS v
  bogus: 1 #ERR
  metrics:
    - v: {usage: GAUGE}
`, `unknown key "bogus"`, nil},
		{"unknown column key", `
q:
  query: SELECT 1 AS v
  metrics:
    - v:
        usage: GAUGE
        descripton: typo #ERR
`, `column v has unknown key "descripton"`, nil},
		{"invalid usage", `
q:
  query: SELECT 1 AS v
  metrics:
    - v:
        usage: GAUGES #ERR
`, `usage "GAUGES"; use one of LABEL, GAUGE`, nil},
		{"missing usage", `
q:
  query: SELECT 1 AS v
  metrics:
    - v: #ERR
        description: no usage
`, `column v has no usage`, nil},
		{"metric name used twice", `
a_b:
  query: SELECT 1 AS c
  metrics:
    - c: {usage: GAUGE}
a:
  query: SELECT 1 AS b_c
  metrics:
    - b_c: {usage: GAUGE} #ERR
`, "metric a_b_c clashes with metric a_b_c of query a_b at test.yaml:5", nil},
		{"counter and its _total form", `
q:
  query: SELECT 1 AS x, 2 AS x_total
  metrics:
    - x: {usage: COUNTER}
    - x_total: {usage: GAUGE} #ERR
`, "metric q_x_total clashes with metric q_x of query q", nil},
		{"column listed twice", `
q:
  query: SELECT 1 AS v
  metrics:
    - v: {usage: GAUGE}
    - v: {usage: GAUGE} #ERR
`, `column "v" is listed twice`, nil},
		{"built-in collector's metric", `
pg_postmaster:
  query: SELECT 1::float8 AS start_timestamp_seconds
  metrics:
    - start_timestamp_seconds: {usage: GAUGE} #ERR
`, "clashes with metric pg_postmaster_start_timestamp_seconds of the built-in collector postmaster; rename the query or column, or disable that collector with --no-collector.postmaster", allBuiltins},
		{"built-in counter without _total", `
pg_stat_database:
  query: SELECT datname, xact_commit FROM pg_stat_database
  metrics:
    - datname: {usage: LABEL}
    - xact_commit: {usage: COUNTER} #ERR
`, "clashes with metric pg_stat_database_xact_commit_total of the built-in collector database", allBuiltins},
		{"built-in pattern", `
pg_settings:
  query: SELECT 1 AS shared_buffers_bytes
  metrics:
    - shared_buffers_bytes: {usage: GAUGE} #ERR
`, "may clash with the pg_settings_* metrics of the built-in collector settings", allBuiltins},
		{"meta-metric", `
pg_custom_query:
  query: SELECT 1 AS success
  metrics:
    - success: {usage: GAUGE} #ERR
`, "clashes with the exporter's own meta-metric pg_custom_query_success", nil},
		{"label missing from the query", `
q:
  query: SELECT datname, numbackends FROM pg_stat_database
  metrics:
    - database: {usage: LABEL} #ERR
    - numbackends: {usage: GAUGE}
`, `column "database" is not in the query's SELECT list (datname, numbackends)`, nil},
		{"histogram part missing", `
q:
  query: SELECT ARRAY[1] AS h, ARRAY[1] AS h_bucket, 1 AS h_sum
  metrics:
    - h: {usage: HISTOGRAM} #ERR
`, `column "h_count" is not in the query's SELECT list`, nil},
		{"query defined twice", `
q:
  query: SELECT 1 AS v
  metrics: [{v: {usage: GAUGE}}]
q: #ERR
  query: SELECT 2 AS v
  metrics: [{v: {usage: GAUGE}}]
`, `query "q" is defined twice (first at line 2)`, nil},
		{"YAML syntax", `
q:
  query: SELECT 1 AS v
   metrics: #ERR
    - v: {usage: GAUGE}
`, "mapping values are not allowed in this context; fix the YAML syntax", nil},
		{"top level not a map", `
- q #ERR
`, "the top level must map query names to queries", nil},
		{"no query", `
q: #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "has no query", nil},
		{"no metrics", `
q: #ERR
  query: SELECT 1
`, "has no metrics list", nil},
		{"labels only", `
q: #ERR
  query: SELECT 'a' AS k
  metrics: [{k: {usage: LABEL}}]
`, "has no value column", nil},
		{"bad label name", `
q:
  query: SELECT 'a' AS "my-label", 1 AS v
  metrics:
    - my-label: {usage: LABEL} #ERR
    - v: {usage: GAUGE}
`, `label column "my-label" is not a valid label name`, nil},
		{"mapped metric without mapping", `
q:
  query: SELECT 'on' AS state
  metrics:
    - state: {usage: MAPPEDMETRIC} #ERR
`, "MAPPEDMETRIC without metric_mapping", nil},
		{"master contradicts databases", `
q:
  query: SELECT 1 AS v
  databases: all
  master: true #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "master: true runs the query on the connection string's database only", nil},
		{"bad databases", `
q:
  query: SELECT 1 AS v
  databases: some #ERR
  metrics: [{v: {usage: GAUGE}}]
`, `databases is "some"; use dsn`, nil},
		{"primary and replica", `
q: #ERR
  query: SELECT 1 AS v
  primary_only: true
  replica_only: true
  metrics: [{v: {usage: GAUGE}}]
`, "sets both primary_only and replica_only", nil},
		{"empty version range", `
q: #ERR
  query: SELECT 1 AS v
  min_version: 16
  max_version: 15
  metrics: [{v: {usage: GAUGE}}]
`, "its version bounds exclude every server (min 160000 >= max 150000)", nil},
		{"bad version", `
q:
  query: SELECT 1 AS v
  min_version: 3 #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "3 is not a PostgreSQL version", nil},
		{"bad runonserver", `
q:
  query: SELECT 1 AS v
  runonserver: ">=9.6.0 || <9.0" #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "alternatives (||) are not supported", nil},
		{"ttl and cache_seconds", `
q:
  query: SELECT 1 AS v
  cache_seconds: 30
  ttl: 1m #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "sets both ttl and cache_seconds", nil},
		{"bad timeout", `
q:
  query: SELECT 1 AS v
  timeout: soon #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "timeout must be a positive duration", nil},
		{"bad predicate", `
q:
  query: SELECT 1 AS v
  predicates:
    - {a: b} #ERR
  metrics: [{v: {usage: GAUGE}}]
`, "each predicate must be an SQL query returning one boolean", nil},
		{"bad query name", `
1q: #ERR
  query: SELECT 1 AS v
  metrics: [{v: {usage: GAUGE}}]
`, "is not a valid metric name prefix", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := collector.LoadCustomQueries([]collector.CustomSource{{Name: "test.yaml", Data: []byte(tc.yaml)}}, tc.enabled)
			if err == nil {
				t.Fatalf("loaded without error; want %q", tc.want)
			}
			prefix := fmt.Sprintf("test.yaml:%d: ", markedLine(t, tc.yaml))
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(line, prefix) && strings.Contains(line, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error does not say %q%q:\n%v", prefix, tc.want, err)
			}
		})
	}
}

// A clash with a built-in collector goes away once that collector is disabled.
func TestCustomQueriesBuiltinDisabled(t *testing.T) {
	src := []collector.CustomSource{{Name: "test.yaml", Data: []byte(`
pg_postmaster:
  query: SELECT 1::float8 AS start_timestamp_seconds
  metrics:
    - start_timestamp_seconds: {usage: GAUGE}
`)}}
	if _, err := collector.LoadCustomQueries(src, allBuiltins); err == nil {
		t.Fatal("the clash with the postmaster collector was not reported")
	}
	if _, err := collector.LoadCustomQueries(src, []string{"database", "settings"}); err != nil {
		t.Fatalf("with postmaster disabled: %v", err)
	}
}

// Names clash across files too; both places are named.
func TestCustomQueriesAcrossFiles(t *testing.T) {
	q := "q:\n  query: SELECT 1 AS v\n  metrics: [{v: {usage: GAUGE}}]\n"
	_, err := collector.LoadCustomQueries([]collector.CustomSource{{Name: "one.yaml", Data: []byte(q)}, {Name: "two.yaml", Data: []byte(q)}}, nil)
	if err == nil || !strings.Contains(err.Error(), "two.yaml:1: query q is also defined at one.yaml:1") {
		t.Errorf("error = %v", err)
	}
	_, err = collector.LoadCustomQueries([]collector.CustomSource{{Name: "/nonexistent/queries.yaml"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/queries.yaml: cannot read the queries file") {
		t.Errorf("error = %v", err)
	}
}

// The shipped queries.yaml loads with every built-in collector enabled.
func TestShippedQueriesLoad(t *testing.T) {
	data, err := os.ReadFile("../queries.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, s := range collector.Specs() {
		all = append(all, s.Name)
	}
	qs, err := collector.LoadCustomQueries([]collector.CustomSource{{Name: "queries.yaml", Data: data}}, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) == 0 {
		t.Fatal("no queries")
	}
}
