package remediate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimalConfig = `
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: postgres://remediate@127.0.0.1:5432/postgres
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
`

func TestConfigDefaults(t *testing.T) {
	cfg, err := Parse("r.yml", []byte(minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Mode != ModeDryRun {
		t.Errorf("mode %q, want dry-run by default", cfg.Mode)
	}
	p := cfg.Rules[0].params.(*vacuumParams)
	if p.MinDeadTuples != 10000 {
		t.Errorf("min_dead_tuples default %d, want the spec's 10000", p.MinDeadTuples)
	}
	if cfg.Targets[0].Concurrency != 1 || cfg.Breaker.Failures != 5 {
		t.Errorf("concurrency %d, breaker failures %d; want 1 and 5", cfg.Targets[0].Concurrency, cfg.Breaker.Failures)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top-level key", "mdoe: enforce\n", `r.yml:1: unknown key "mdoe" in the top level`},
		{"unknown rule key", minimalConfig + "    cooldwn: 1h\n", `r.yml:9: unknown key "cooldwn" in Rule`},
		{"unknown param", minimalConfig + "    params: {min_dead_tupels: 5}\n", `r.yml:9: unknown key "min_dead_tupels" in params of vacuum`},
		{"unknown action", strings.Replace(minimalConfig, "action: vacuum", "action: vacuum_full", 1), `r.yml:7: rule for PostgresDeadTuplesHigh: unknown action "vacuum_full"`},
		{"bad mode", "mode: yolo\n" + minimalConfig, `r.yml: mode is "yolo"; use dry-run (report only) or enforce`},
		{"bad window", minimalConfig + "    window: w\nwindows:\n  w: {start: '25:00', end: '04:00'}\n", `r.yml:11: window "w": start: "25:00" is not a time of day`},
		{"undefined window", minimalConfig + "    window: nightly\n", `window "nightly" is not defined`},
		{"bad zone", "windows:\n  w: {start: '02:00', end: '04:00', time_zone: Mars/Olympus}\n", `time_zone "Mars/Olympus" is unknown`},
		{"bad regexp", "allow:\n  tables: ['(']\n", `allow.tables: pattern "(" is not a valid regular expression`},
		{"target without match", "targets:\n  - name: x\n    dsn: postgres://a@b/c\n", `r.yml:2: target "x" needs match`},
		{"command from a label", minimalConfig + "  - alertname: A\n    action: command\n    params: {command: ['{prog}']}\n", `the program ("{prog}") must be fixed`},
		{"cancel idle in transaction", minimalConfig + "  - alertname: PostgresIdleInTransaction\n    action: cancel_backend\n    params: {sessions: idle_in_transaction}\n", `r.yml:9: rule for PostgresIdleInTransaction: cancel_backend cannot end a session idle in a transaction`},
		{"backend without sessions", minimalConfig + "  - alertname: A\n    action: terminate_backend\n", `sessions is ""; use idle_in_transaction or blocking`},
		{"bad dsn", "targets:\n  - name: x\n    match: {a: b}\n    dsn: 'host=a port=notaport'\n", `target "x" dsn is not a valid PostgreSQL connection string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("r.yml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("../examples/remediate.yml")
	if err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "/etc/pg_hardening_exporter/remediate.pass", pass)
	cfg, err := Parse("examples/remediate.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"vacuum", "analyze", "reindex", "terminate_backend", "cancel_backend", "terminate_idle", "backup_retry"} {
		found := false
		for _, r := range cfg.Rules {
			found = found || r.Action == a
		}
		if !found {
			t.Errorf("the example has no rule for %s", a)
		}
	}
}

func TestWindow(t *testing.T) {
	w := &Window{Start: "02:00", End: "04:00", TimeZone: "Europe/Berlin"}
	if err := w.compile(); err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(h, m int) time.Time { return time.Date(2025, 3, 10, h, m, 0, 0, berlin) }
	for _, tc := range []struct {
		now  time.Time
		open bool
		next time.Time
	}{
		{at(1, 59), false, at(2, 0)},
		{at(2, 0), true, at(2, 0)},
		{at(3, 59), true, at(3, 59)},
		{at(4, 0), false, at(2, 0).AddDate(0, 0, 1)},
		{at(23, 0), false, at(2, 0).AddDate(0, 0, 1)},
	} {
		if got := w.Open(tc.now.UTC()); got != tc.open {
			t.Errorf("Open(%s) = %v", tc.now, got)
		}
		if got := w.Next(tc.now); !got.Equal(tc.next) {
			t.Errorf("Next(%s) = %s, want %s", tc.now, got, tc.next)
		}
	}
	// Crossing midnight, weekdays only.
	x := &Window{Start: "22:00", End: "01:00", Days: []string{"fri"}}
	if err := x.compile(); err != nil {
		t.Fatal(err)
	}
	fri := time.Date(2025, 3, 14, 23, 30, 0, 0, time.UTC) // a Friday
	if !x.Open(fri) || !x.Open(fri.Add(time.Hour)) || x.Open(fri.Add(2*time.Hour)) {
		t.Error("Friday 22:00-01:00 window: wrong open state around midnight")
	}
	if x.Open(fri.AddDate(0, 0, 1)) {
		t.Error("the window opened on a Saturday")
	}
	if got, want := x.Next(fri.Add(2*time.Hour)), time.Date(2025, 3, 21, 22, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("next opening %s, want %s", got, want)
	}
}
