package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/proctest"

	"github.com/alecthomas/kingpin/v2"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

func clearPGExporterEnv(t *testing.T) {
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		if strings.HasPrefix(k, "PG_EXPORTER_") || strings.HasPrefix(k, envPrefix+"_") && k != helperEnv {
			t.Setenv(k, "")
		}
	}
}

// postgres_exporter's flags and variables are read as ours, with one warning
// each naming ours; ours win when both are given.
func TestPostgresExporterFlagsAreAliases(t *testing.T) {
	clearDSNEnv(t)
	clearPGExporterEnv(t)
	queries := writeFile(t, "queries.yaml", "q:\n  query: SELECT 1::float8 AS v\n  metrics: [{v: {usage: GAUGE}}]\n")
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		rc    int
		wants []string // in stdout+stderr
		never []string
	}{
		{
			name: "flags",
			args: []string{"--extend.query-path=" + queries, "--disable-settings-metrics", "--no-collector.stat_bgwriter",
				"--no-collector.stat_activity_autovacuum", "--collector.stat_statements.limit=5", "--constantLabels=env=prod",
				"--exclude-databases=rdsadmin,tmp", "--auto-discover-databases", "--collector.buffercache_summary"},
			wants: []string{
				"--extend.query-path is postgres_exporter's: read as --collector.custom.query-path (PG_HARDENING_EXPORTER_COLLECTOR_CUSTOM_QUERY_PATH)",
				"--disable-settings-metrics is postgres_exporter's: read as --no-collector.settings",
				"--no-collector.stat_bgwriter is postgres_exporter's: read as --no-collector.bgwriter",
				"--no-collector.stat_activity_autovacuum is postgres_exporter's: ignored: --collector.activity covers more",
				"--collector.stat_statements.limit is postgres_exporter's: ignored: objects.statements.top_n",
				"--constantLabels is postgres_exporter's: read as --constant-labels",
				"--exclude-databases is postgres_exporter's: read as --databases.exclude",
				"--auto-discover-databases is postgres_exporter's: not needed",
				"--collector.buffercache_summary is postgres_exporter's: ignored: there is no such collector here",
				"collectors: [activity archiver bloat ",
			},
			never: []string{" bgwriter ", " settings "},
		},
		{
			name: "environment",
			args: []string{"--collector.settings"},
			env: map[string]string{"PG_EXPORTER_DISABLE_DEFAULT_METRICS": "true", "PG_EXPORTER_EXTEND_QUERY_PATH": queries,
				"PG_EXPORTER_CONSTANT_LABELS": "a=b", "PG_EXPORTER_WEB_TELEMETRY_PATH": "/m"},
			wants: []string{"PG_EXPORTER_WEB_TELEMETRY_PATH is postgres_exporter's: read as --web.telemetry-path", "PG_EXPORTER_DISABLE_DEFAULT_METRICS is postgres_exporter's: read as --collector.disable-defaults",
				"PG_EXPORTER_EXTEND_QUERY_PATH is postgres_exporter's: read as --collector.custom.query-path",
				"collectors: [settings]"},
		},
		{
			name:  "ours win",
			args:  []string{"--extend.query-path=/nonexistent.yaml", "--collector.custom.query-path=" + queries, "--collector.stat_statements", "--no-collector.statements"},
			wants: []string{"--extend.query-path is postgres_exporter's: ignored, as --collector.custom.query-path is given", "--collector.stat_statements is postgres_exporter's: ignored, as --[no-]collector.statements is given"},
			never: []string{"statements tables"},
		},
		{
			name:  "our environment wins",
			env:   map[string]string{"PG_EXPORTER_CONSTANT_LABELS": "a=b", "PG_HARDENING_EXPORTER_CONSTANT_LABELS": "c=d", "PG_HARDENING_EXPORTER_COLLECTOR_WAL": "false"},
			wants: []string{"PG_EXPORTER_CONSTANT_LABELS is postgres_exporter's: ignored, as --constant-labels is given", "wraparound]"},
			never: []string{" wal "},
		},
		{name: "prefix", args: []string{"--metric-prefix=postgres"}, rc: 2, wants: []string{"--metric-prefix=postgres: metric names here always start with pg_"}},
		{name: "dumpmaps", args: []string{"--dumpmaps"}, rc: 2, wants: []string{"--dumpmaps (postgres_exporter's) has no counterpart here"}},
		{name: "bad labels", args: []string{"--constantLabels=1x=y"}, rc: 2, wants: []string{`--constant-labels: "1x=y" label is not a valid label name`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runArgs(t, append(tc.args, "--config.check")...)
			out := strings.ReplaceAll(stdout+stderr, "\\\"", "\"")
			if code != tc.rc {
				t.Errorf("exit %d, want %d:\n%s", code, tc.rc, out)
			}
			for _, w := range tc.wants {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(out, n) {
					t.Errorf("output has %q:\n%s", n, out)
				}
			}
		})
	}
}

// Every hidden alias is listed in docs/configuration.md.
func TestAliasesAreDocumented(t *testing.T) {
	docs := readDocs(t, "docs/configuration.md")
	c := addCompatFlags(kingpin.New("x", "").Command("x", ""), true)
	for flag := range c.flags {
		name := strings.TrimPrefix(flag, "collector.")
		if strings.HasPrefix(name, "stat_statements.") {
			name = strings.TrimPrefix(name, "stat_statements")
		}
		if !strings.Contains(docs, "`"+name) && !strings.Contains(docs, "`--"+flag) {
			t.Errorf("alias --%s is not in docs/configuration.md", flag)
		}
	}
	if len(c.flags) < 20 {
		t.Fatalf("only %d aliases", len(c.flags))
	}
}

// The binary (go build, as make build) started as postgres_exporter's Helm
// chart starts it, with the chart's default arguments and environment
// (templates/deployment.yaml and values.yaml of
// charts/prometheus-postgres-exporter: no config file mounted,
// DATA_SOURCE_URI host:port/?sslmode=disable, DATA_SOURCE_USER postgres,
// DATA_SOURCE_PASS from its secret), reports pg_up 1. Only the host and port
// are this machine's.
func TestHelmChartDefaults(t *testing.T) {
	s := pgtest.StartT(t, pgtest.Options{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	bin := filepath.Join(t.TempDir(), "pg_hardening_exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the exporter: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(t.TempDir(), "etc", "postgres_exporter.yml"), "--web.listen-address="+addr)
	env := []string{}
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); !strings.HasPrefix(k, "DATA_SOURCE_") && !strings.HasPrefix(k, "PG_EXPORTER_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env,
		fmt.Sprintf("DATA_SOURCE_URI=127.0.0.1:%d/?sslmode=disable", s.Port),
		"DATA_SOURCE_USER="+pgtest.Superuser,
		"DATA_SOURCE_PASS="+s.SuperuserPassword())
	output := proctest.Start(t, cmd, "the exporter")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var body string
	for {
		// The chart's liveness and readiness probes ask for "/".
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the exporter did not answer on / (the chart's probes)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body = string(b)
	if !strings.Contains(body, "\npg_up 1\n") {
		t.Fatalf("no pg_up 1:\n%.2000s", body)
	}
	if !strings.Contains(output.String(), "postgres_exporter's config file does not exist; starting with the defaults") {
		t.Errorf("no warning about the missing config file:\n%s", output.String())
	}
	if strings.Contains(output.String()+body, s.SuperuserPassword()) {
		t.Error("the password leaked")
	}
}
