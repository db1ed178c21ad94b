package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

func TestConnSettingsResolve(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dsnFile := write("dsn", "  postgres://app@db1:5433/app?sslmode=disable \n")
	passFile := write("pass", "s3cr3t\r\n")
	badDSNFile := write("bad", "postgres://app:inl1nepw@db1:notaport/app\n")
	missing := filepath.Join(dir, "missing")
	getenv := env(map[string]string{"APP_DSN": "host=db2 user=app dbname=app password=envpw"})

	for _, tc := range []struct {
		name    string
		s       ConnSettings
		setting string // of a resolved setting
		host    string
		pass    string
		err     string // the whole error, for failures
	}{
		{name: "dsn", s: ConnSettings{ConnSource: config.ConnSource{DSN: "postgres://app@db1/app"}}, setting: `target "x" dsn`, host: "db1"},
		{name: "dsn_file trimmed", s: ConnSettings{ConnSource: config.ConnSource{DSNFile: dsnFile}}, setting: `target "x" dsn_file`, host: "db1"},
		{name: "dsn_env", s: ConnSettings{ConnSource: config.ConnSource{DSNEnv: "APP_DSN"}}, setting: `target "x" dsn_env APP_DSN`, host: "db2", pass: "envpw"},
		{name: "password_file overrides", s: ConnSettings{ConnSource: config.ConnSource{DSNEnv: "APP_DSN", PasswordFile: passFile}}, setting: `target "x" dsn_env APP_DSN`, host: "db2", pass: "s3cr3t"},
		{name: "dsn_file unreadable", s: ConnSettings{ConnSource: config.ConnSource{DSNFile: missing}},
			err: `target "x": cannot read dsn_file: no such file or directory; make it readable by the user pg_hardening_exporter runs as`},
		{name: "dsn_env unset", s: ConnSettings{ConnSource: config.ConnSource{DSNEnv: "NOT_SET"}},
			err: `target "x" dsn_env NOT_SET: the environment variable is empty or unset; set it to the connection string`},
		{name: "password_file unreadable", s: ConnSettings{ConnSource: config.ConnSource{DSN: "postgres://app@db1/app", PasswordFile: missing}},
			err: `target "x": cannot read password_file: no such file or directory; make it readable by the user pg_hardening_exporter runs as`},
		{name: "kind names the server", s: ConnSettings{Kind: "pgbouncer", ConnSource: config.ConnSource{DSNEnv: "NOT_SET"}},
			err: `pgbouncer "x" dsn_env NOT_SET: the environment variable is empty or unset; set it to the connection string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if s.Kind == "" {
				s.Kind = "target"
			}
			s.Name = "x"
			cfg, err := s.ConnConfig(getenv)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v\nwant %s", err, tc.err)
				}
				if strings.Contains(err.Error(), dir) {
					t.Errorf("the path is echoed: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, _ := s.Resolve(getenv)
			if r.Setting != tc.setting || cfg.Host != tc.host || cfg.Password != tc.pass {
				t.Errorf("setting %q host %q password %q; want %q %q %q", r.Setting, cfg.Host, cfg.Password, tc.setting, tc.host, tc.pass)
			}
		})
	}

	// A connection string that does not parse is named by its setting, and
	// neither its own password nor the password file's appears.
	_, err := ConnSettings{Kind: "target", Name: "x", ConnSource: config.ConnSource{DSNFile: badDSNFile, PasswordFile: passFile}}.ConnConfig(getenv)
	if err == nil || !strings.HasPrefix(err.Error(), `target "x" dsn_file is not a valid PostgreSQL connection string`) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "inl1nepw") || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("a password leaked: %v", err)
	}
}
