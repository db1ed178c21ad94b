package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestResolvePrecedence(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, ok, err := DSNSettings{}.Resolve(env(map[string]string{
		"DATA_SOURCE_URI": "db1:5433/app?sslmode=disable", "DATA_SOURCE_USER": "exporter", "DATA_SOURCE_PASS_FILE": pass,
	}))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	cfg, err := ParseDSN(r.Setting, r.DSN, r.Password)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "db1" || cfg.Port != 5433 || cfg.Database != "app" || cfg.User != "exporter" || cfg.Password != "s3cr3t" {
		t.Fatalf("split settings: %+v", cfg.Config)
	}
	if r.Setting != "DATA_SOURCE_URI with DATA_SOURCE_PASS_FILE" {
		t.Fatalf("setting %q", r.Setting)
	}

	r, _, _ = DSNSettings{FlagDSN: "postgres://a@h/x"}.Resolve(env(map[string]string{"DATA_SOURCE_NAME": "postgres://b@h/y"}))
	if r.Setting != "--data-source.name" {
		t.Fatalf("flag must win: %q", r.Setting)
	}
	r, _, _ = DSNSettings{}.Resolve(env(map[string]string{"DATA_SOURCE_NAME": "postgres://b@h/y", "DATA_SOURCE_URI": "h/z"}))
	if r.Setting != "DATA_SOURCE_NAME" {
		t.Fatalf("DATA_SOURCE_NAME must win over the URI: %q", r.Setting)
	}
	if _, ok, _ := (DSNSettings{}).Resolve(env(nil)); ok {
		t.Fatal("no setting must resolve to nothing")
	}
}

func TestURIWithCredentialsRefused(t *testing.T) {
	_, _, err := DSNSettings{}.Resolve(env(map[string]string{"DATA_SOURCE_URI": "u:pw@h/db"}))
	if err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("got %v", err)
	}
}

func TestMissingPasswordFile(t *testing.T) {
	_, _, err := DSNSettings{}.Resolve(env(map[string]string{"DATA_SOURCE_NAME": "postgres://h/db", "DATA_SOURCE_PASS_FILE": "/nonexistent/pw"}))
	if err == nil || !strings.Contains(err.Error(), "DATA_SOURCE_PASS_FILE: cannot read /nonexistent/pw") {
		t.Fatalf("got %v", err)
	}
}

func TestMalformedDSNIsRedacted(t *testing.T) {
	for _, dsn := range []string{
		"postgres://user:hunter2@host:notaport/db",
		"host=h port=abc user=u password=hunter2",
		"postgres://user:hunter2@host/db?sslmode=sometimes",
	} {
		_, err := ParseDSN("DATA_SOURCE_NAME", dsn, "")
		if err == nil {
			t.Fatalf("accepted %q", dsn)
		}
		msg := err.Error()
		if strings.Contains(msg, "hunter2") {
			t.Fatalf("password leaked: %s", msg)
		}
		if !strings.HasPrefix(msg, "DATA_SOURCE_NAME is not a valid PostgreSQL connection string") {
			t.Fatalf("message does not name the setting: %s", msg)
		}
	}
}

func TestRedact(t *testing.T) {
	got := Redact("failed for postgres://u:p%40ss@h/db and p@ss", "postgres://u:p%40ss@h/db")
	if strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") {
		t.Fatalf("not redacted: %s", got)
	}
}

func FuzzParseDSN(f *testing.F) {
	f.Add("postgres://u:pw@h:5432/db?sslmode=disable", "")
	f.Add("host=h user=u password=pw", "filepw")
	f.Fuzz(func(t *testing.T, dsn, pass string) {
		_, err := ParseDSN("DATA_SOURCE_NAME", dsn, pass)
		if err != nil && len(pass) >= 4 && strings.Contains(err.Error(), pass) && !strings.Contains("DATA_SOURCE_NAME is not a valid PostgreSQL connection string", pass) {
			t.Fatalf("separate password leaked into %q", err)
		}
	})
}

// postgres_exporter reads DATA_SOURCE_NAME as a comma-separated list of
// connection strings. Read as one URL, the rest of the list became the
// database name, and with it the second password went into the target's
// name (a label value and every log line about the target). A list is
// refused, naming neither password; a multi-host URL still parses.
func TestDSNListRefused(t *testing.T) {
	for _, dsn := range []string{
		"postgresql://u:pw1secret@h1:5432/db,postgresql://u2:pw2secret@h2:5432/db",
		"postgres://u:pw1secret@h1/db?sslmode=disable, postgres://u2:pw2secret@h2/db",
	} {
		_, err := ParseDSN("DATA_SOURCE_NAME", dsn, "")
		if err == nil || !strings.Contains(err.Error(), "connection strings separated by commas") || !strings.Contains(err.Error(), "/probe") {
			t.Errorf("%s: %v, want a refusal of the list that says to scrape the others with /probe", dsn, err)
			continue
		}
		if strings.Contains(err.Error(), "pw1secret") || strings.Contains(err.Error(), "pw2secret") {
			t.Errorf("the refusal shows a password: %v", err)
		}
	}
	cfg, err := ParseDSN("DATA_SOURCE_NAME", "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write", "")
	if err != nil || cfg.Database != "db" || cfg.Fallbacks[len(cfg.Fallbacks)-1].Host != "h2" {
		t.Fatalf("multi-host URL: %v", err)
	}
}
