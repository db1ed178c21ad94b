package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
		{[]string{"--config.check"}, 0, "configuration OK"},
		{[]string{"--config.check", "--collector.custom.query-path=" + good, "--collector.custom.query-path=" + clash, "--no-collector.postmaster"}, 0, "configuration OK"},
		{[]string{"--config.check", "--config.file=" + cfgGood}, 0, "configuration OK"},
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
