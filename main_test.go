package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func clearDSNEnv(t *testing.T) {
	for _, k := range []string{"DATA_SOURCE_NAME", "DATA_SOURCE_URI", "DATA_SOURCE_URI_FILE", "DATA_SOURCE_USER",
		"DATA_SOURCE_USER_FILE", "DATA_SOURCE_PASS", "DATA_SOURCE_PASS_FILE"} {
		t.Setenv(k, "")
	}
}

func TestBadConfigExitsWithFileAndLine(t *testing.T) {
	clearDSNEnv(t)
	p := writeFile(t, "exporter.yml", "connection:\n  max_connections: 2\n  idle_timout: 1m\n")
	code, _, stderr := runArgs(t, "--config.file="+p, "--web.listen-address=127.0.0.1:0")
	if code == 0 {
		t.Fatal("started with a bad config")
	}
	if !strings.Contains(stderr, p+`:3: unknown key "idle_timout" in connection`) {
		t.Fatalf("stderr does not name file:line: %q", stderr)
	}
}

func TestConfigCheckValidatesWithoutStarting(t *testing.T) {
	clearDSNEnv(t)
	good := writeFile(t, "good.yml", "targets:\n  - name: a\n    dsn: postgres://u@db:5432/app\n")
	code, stdout, stderr := runArgs(t, "--config.file="+good, "--config.check")
	if code != 0 || !strings.Contains(stdout, "configuration valid: "+good) || !strings.Contains(stdout, "no data source is set") {
		t.Fatalf("good config: %d %q %q", code, stdout, stderr)
	}
	bad := writeFile(t, "bad.yml", "targets:\n  - name: a\n")
	code, _, stderr = runArgs(t, "--config.file="+bad, "--config.check")
	if code == 0 || !strings.Contains(stderr, bad+`:2: target "a" needs exactly one of dsn, dsn_file and dsn_env`) {
		t.Fatalf("bad config: %d %q", code, stderr)
	}
	unknown := writeFile(t, "unknown.yml", "collectors:\n  nosuch:\n    ttl: 1m\n")
	code, _, stderr = runArgs(t, "--config.file="+unknown, "--config.check")
	if code == 0 || !strings.Contains(stderr, unknown+":2: collectors.nosuch: no collector has that name") {
		t.Fatalf("unknown collector: %d %q", code, stderr)
	}
}

// A bad config file is reported even when the data source is bad too: the
// config is checked first, as the file's errors say where to look.
func TestBadConfigReportedBeforeBadDSN(t *testing.T) {
	clearDSNEnv(t)
	bad := writeFile(t, "bad.yml", "targets:\n  - name: a\n")
	code, _, stderr := runArgs(t, "--config.file="+bad, "--config.check", "--data-source.name=postgres://u@h:notaport/x")
	if code == 0 || !strings.Contains(stderr, bad+`:2: target "a" needs exactly one of dsn, dsn_file and dsn_env`) {
		t.Fatalf("want the config error first: %d %q", code, stderr)
	}
}

func TestMalformedDSNNamesSettingAndHidesPassword(t *testing.T) {
	clearDSNEnv(t)
	t.Setenv("DATA_SOURCE_NAME", "postgres://exporter:Sup3rSecret@db:notaport/app")
	code, stdout, stderr := runArgs(t, "--config.check")
	if code == 0 {
		t.Fatalf("accepted a malformed DSN: %q", stdout)
	}
	if !strings.Contains(stderr, "DATA_SOURCE_NAME is not a valid PostgreSQL connection string") {
		t.Fatalf("message does not name the setting: %q", stderr)
	}
	if strings.Contains(stderr+stdout, "Sup3rSecret") {
		t.Fatalf("password leaked: %q", stderr)
	}

	clearDSNEnv(t)
	t.Setenv("DATA_SOURCE_URI", "db:5432/app")
	t.Setenv("DATA_SOURCE_USER", "exporter")
	t.Setenv("DATA_SOURCE_PASS_FILE", "/nonexistent/secret")
	code, _, stderr = runArgs(t, "--config.check")
	if code == 0 || !strings.Contains(stderr, "DATA_SOURCE_PASS_FILE: cannot read /nonexistent/secret") {
		t.Fatalf("missing password file: %d %q", code, stderr)
	}
}

func TestUnknownFlagIsAClearError(t *testing.T) {
	code, _, stderr := runArgs(t, "--collector.nosuch")
	if code != 2 || !strings.Contains(stderr, "unknown long flag '--collector.nosuch'") {
		t.Fatalf("%d %q", code, stderr)
	}
}

func TestCollectorSelection(t *testing.T) {
	clearDSNEnv(t)
	code, stdout, _ := runArgs(t, "--collector.disable-defaults", "--collector.settings", "--config.check")
	if code != 0 || !strings.Contains(stdout, "collectors: [settings]") {
		t.Fatalf("%d %q", code, stdout)
	}
	code, stdout, _ = runArgs(t, "--no-collector.settings", "--config.check")
	if code != 0 || strings.Contains(stdout, "settings") || !strings.Contains(stdout, "database") {
		t.Fatalf("%d %q", code, stdout)
	}
}

// --config.check loads the custom queries and the PgBouncer settings through
// the same build step the exporter uses, so their errors stop it at start.
func TestConfigCheckCustomQueriesAndPgBouncers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "q:\n  query: SELECT 1 AS v\n  metrics: [{v: {usage: GAUGE}}]\n")
	bad := write("bad.yaml", "q:\n  query: SELECT 1 AS v\n  metrics: [{v: {usage: GAUGES}}]\n")
	clash := write("clash.yaml", "pg_postmaster:\n  query: SELECT 1::float8 AS start_timestamp_seconds\n  metrics: [{start_timestamp_seconds: {usage: GAUGE}}]\n")
	cfgGood := write("good.yml", "custom_queries: ["+good+"]\npgbouncers:\n  - name: pool1\n    dsn: postgres://exporter@127.0.0.1:6432/pgbouncer\n")
	cfgBadBouncer := write("badpgb.yml", "pgbouncers:\n  - name: pool1\n    dsn: postgres://exporter@127.0.0.1:6432/appdb\n")
	cfgBadKey := write("badkey.yml", "pgbouncers:\n  - name: pool1\n    dsn: postgres://x@h/pgbouncer\n    tiemout: 5s\n")

	for _, tc := range []struct {
		args []string
		rc   int
		want string
	}{
		{[]string{"--config.check"}, 0, "configuration valid"},
		{[]string{"--config.check", "--collector.custom.query-path=" + good, "--collector.custom.query-path=" + clash, "--no-collector.postmaster"}, 0, "configuration valid"},
		{[]string{"--config.check", "--config.file=" + cfgGood}, 0, "configuration valid"},
		{[]string{"--config.check", "--collector.custom.query-path=" + bad}, 1, bad + ":3: query q: column v has usage \"GAUGES\""},
		{[]string{"--config.check", "--collector.custom.query-path=" + clash}, 1, "--no-collector.postmaster"},
		{[]string{"--config.check", "--collector.custom.query-path=none", "--collector.custom.query-path=" + filepath.Join(dir, "missing.yaml")}, 1, "missing.yaml: cannot read the queries file"},
		{[]string{"--config.check", "--config.file=" + cfgBadBouncer}, 1, `names database "appdb"`},
		{[]string{"--config.check", "--config.file=" + cfgBadKey}, 1, cfgBadKey + `:4: unknown key "tiemout" in pgbouncers`},
	} {
		var out, errOut bytes.Buffer
		rc := run(tc.args, &out, &errOut)
		text := out.String() + errOut.String()
		if rc != tc.rc || !strings.Contains(text, tc.want) {
			t.Errorf("%v: rc %d, output:\n%s\nwant rc %d and %q", tc.args, rc, text, tc.rc, tc.want)
		}
	}
}

// --config.check says OK only when there is something to scrape on
// /metrics; without a data source it says so.
func TestConfigCheckReportsTheDataSource(t *testing.T) {
	clearDSNEnv(t)
	code, stdout, _ := runArgs(t, "--config.check")
	if code != 0 || strings.Contains(stdout, "OK") || !strings.Contains(stdout, "no data source is set (--data-source.name, DATA_SOURCE_NAME, DATA_SOURCE_URI)") {
		t.Fatalf("without a data source: %d %q", code, stdout)
	}
	t.Setenv("DATA_SOURCE_URI", "db.example:5433/app?sslmode=disable")
	t.Setenv("DATA_SOURCE_USER", "exporter")
	code, stdout, _ = runArgs(t, "--config.check")
	if code != 0 || !strings.Contains(stdout, "exporter configuration OK: built-in defaults") ||
		!strings.Contains(stdout, "data source db.example:5433/app from DATA_SOURCE_URI") {
		t.Fatalf("with DATA_SOURCE_URI: %d %q", code, stdout)
	}
}

// Each command's --help tells its own defaults and which file its
// --config.file is.
func TestHelpTellsEachCommandsDefaults(t *testing.T) {
	for _, tc := range []struct {
		cmd         string
		want, never []string
	}{
		{"exporter", []string{"--web.listen-address=:9932", "The exporter's configuration file", "$PG_HARDENING_EXPORTER_CONFIG_FILE"},
			[]string{":9933", "receiver's configuration", "extend.query-path", "constantLabels", "PG_EXPORTER_", "collector.stat_user_tables"}},
		{"remediate", []string{"--web.listen-address=:9933", "The receiver's configuration file", "$PG_HARDENING_EXPORTER_REMEDIATE_CONFIG_FILE"}, []string{":9932", "exporter's configuration"}},
		{"check-config", []string{"The exporter's configuration file to validate", "--remediate.config"}, []string{"--web.listen-address"}},
	} {
		help := helpText(t, tc.cmd)
		for _, w := range tc.want {
			if !strings.Contains(help, w) {
				t.Errorf("%s --help lacks %q:\n%s", tc.cmd, w, help)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(help, n) {
				t.Errorf("%s --help says %q:\n%s", tc.cmd, n, help)
			}
		}
	}
}
