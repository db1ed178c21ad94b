package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Connection.MaxConnections != 2 || cfg.Connection.BreakerFailures != 5 || cfg.Connection.BreakerOpenFor != time.Minute {
		t.Fatalf("defaults changed: %+v", cfg.Connection)
	}
	if cfg.Connection.Retries != 3 || cfg.Connection.RetryBackoff != 100*time.Millisecond {
		t.Fatalf("retry defaults are not the spec's 3 from 100ms: %+v", cfg.Connection)
	}
}

func TestParseFull(t *testing.T) {
	src := `
targets:
  - name: main
    dsn: postgres://exporter@db1:5432/app
  - name: other
    dsn_env: OTHER_DSN
auth_modules:
  mon:
    type: userpass
    userpass:
      username: exporter
      password_file: /run/secrets/pg
    options:
      sslmode: verify-full
connection:
  max_connections: 3
  lock_timeout: 1s
databases:
  exclude: ["rdsadmin", "test_.*"]
collectors:
  database:
    ttl: 30s
`
	cfg, err := Parse("x.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[1].Line != 5 {
		t.Fatalf("targets: %+v", cfg.Targets)
	}
	if cfg.Connection.MaxConnections != 3 || cfg.Connection.LockTimeout != time.Second || cfg.Connection.Retries != 3 {
		t.Fatalf("connection: %+v", cfg.Connection)
	}
	if cfg.Databases.Wanted("rdsadmin") || cfg.Databases.Wanted("test_1") || !cfg.Databases.Wanted("app") {
		t.Fatal("exclude patterns not applied as anchored regexps")
	}
	if cfg.TTL("database", 0) != 30*time.Second || cfg.TTL("settings", time.Second) != time.Second {
		t.Fatal("collector TTLs")
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"unknown top-level key", "targetz: []\n", `bad.yml:1: unknown key "targetz" in the top level`},
		{"unknown nested key", "connection:\n  max_conections: 3\n", `bad.yml:2: unknown key "max_conections" in connection`},
		{"bad type", "connection:\n  max_connections: lots\n", "bad.yml:2: cannot unmarshal"},
		{"bad duration", "connection:\n  idle_timeout: soon\n", "bad.yml:2:"},
		{"duplicate target", "targets:\n  - name: a\n    dsn: x\n  - name: a\n    dsn: y\n", `bad.yml:4: target "a" is defined twice (first at line 2)`},
		{"target without dsn", "targets:\n  - name: a\n", `bad.yml:2: target "a" needs exactly one of dsn, dsn_file and dsn_env`},
		{"target with two dsns", "targets:\n  - name: a\n    dsn: x\n    dsn_env: Y\n", `bad.yml:2: target "a" needs exactly one`},
		{"bad target name", "targets:\n  - name: 'a b'\n    dsn: x\n", `bad.yml:2: target name "a b"`},
		{"auth module type", "auth_modules:\n  m:\n    type: ldap\n    userpass: {username: u}\n", `bad.yml:3: auth module "m" has type "ldap"`},
		{"auth module option", "auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u}\n    options: {host: evil}\n", `bad.yml:3: auth module "m" has option "host"`},
		{"bad regexp", "databases:\n  include: ['(']\n", `bad.yml:2: databases.include: pattern "("`},
		{"bad target regexp", "targets:\n  - name: a\n    dsn: x\n    databases:\n      exclude: ['app[']\n", `bad.yml:5: target "a": databases.exclude: pattern "app["`},
		{"unknown target databases key", "targets:\n  - name: a\n    dsn: x\n    databases:\n      includes: [x]\n", `bad.yml:5:`},
		{"zero pool", "connection:\n  max_connections: 0\n", "connection.max_connections is 0"},
		{"syntax", "targets: [\n", "bad.yml:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("bad.yml", []byte(c.src))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.src)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestCheckCollectors(t *testing.T) {
	cfg, err := Parse("c.yml", []byte("collectors:\n  databse:\n    ttl: 1m\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckCollectors(func(n string) bool { return n == "database" })
	if err == nil || !strings.Contains(err.Error(), "c.yml:2: collectors.databse: no collector has that name") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("targets:\n  - name: a\n    dsn: x\n"))
	f.Add([]byte("connection: {max_connections: 3}\n"))
	f.Add([]byte("auth_modules: {m: {type: userpass, userpass: {username: u}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yml", data)
		if err == nil && cfg.Connection.MaxConnections < 1 {
			t.Fatalf("accepted a config with max_connections %d", cfg.Connection.MaxConnections)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.yml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func TestUnknownKeysInsideListsAndMaps(t *testing.T) {
	for src, want := range map[string]string{
		"targets:\n  - name: a\n    dsn: x\n    bogus: 1\n":                     `s.yml:4: unknown key "bogus" in a target`,
		"auth_modules:\n  m:\n    type: userpass\n    userpas: {username: u}\n": `s.yml:4: unknown key "userpas" in an auth module`,
		"auth_modules:\n  m:\n    type: userpass\n    userpass: {usernme: u}\n": `s.yml:4: unknown key "usernme" in userpass`,
		"collectors:\n  database:\n    tll: 1m\n":                               `s.yml:3: unknown key "tll" in a collector's settings`,
	} {
		_, err := Parse("s.yml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
}

// Database patterns from the command line apply beside the file's: an
// include from either admits a database, an exclude from either drops it,
// and setting them again replaces the previous ones.
func TestDatabaseFlagPatterns(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("databases:\n  include: ['app.*']\n  exclude: ['app_tmp']\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &cfg.Databases
	if err := d.SetFlagPatterns([]string{"reports"}, []string{`app_old`}); err != nil {
		t.Fatal(err)
	}
	for db, want := range map[string]bool{"app": true, "reports": true, "app_tmp": false, "app_old": false, "postgres": false} {
		if got := d.Wanted(db); got != want {
			t.Errorf("Wanted(%q) = %v, want %v", db, got, want)
		}
	}
	if err := d.SetFlagPatterns(nil, nil); err != nil {
		t.Fatal(err)
	}
	if d.Wanted("reports") || !d.Wanted("app_old") {
		t.Error("setting the flag patterns again did not replace them")
	}
	if err := d.SetFlagPatterns(nil, []string{"("}); err == nil || !strings.Contains(err.Error(), "--databases.exclude: pattern \"(\" is not a valid regular expression") {
		t.Errorf("bad pattern: %v", err)
	}
}

// A target's databases section replaces the top level's patterns; the
// command line's still apply. Only narrows a selection to one database and
// keeps its excludes.
func TestTargetDatabases(t *testing.T) {
	cfg, err := Parse("x.yml", []byte(`databases:
  include: ['app.*']
  exclude: [app_tmp]
targets:
  - name: own
    dsn: x
    databases: {include: [billing, app_tmp], discovery_ttl: 1m}
  - name: inherits
    dsn: y
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Databases.SetFlagPatterns(nil, []string{"rdsadmin"}); err != nil {
		t.Fatal(err)
	}
	own, inherits := cfg.TargetDatabases(cfg.Targets[0]), cfg.TargetDatabases(cfg.Targets[1])
	for _, c := range []struct {
		d    Databases
		db   string
		want bool
	}{
		{own, "billing", true}, {own, "app_tmp", true}, {own, "app1", false},
		{inherits, "app1", true}, {inherits, "app_tmp", false}, {inherits, "billing", false},
		{own.Only("rdsadmin"), "rdsadmin", false},
		{inherits.Only("a.b"), "a.b", true}, {inherits.Only("a.b"), "axb", false}, {inherits.Only("a.b"), "app1", false},
		{inherits.Only("app_tmp"), "app_tmp", false},
	} {
		if got := c.d.Wanted(c.db); got != c.want {
			t.Errorf("%v/%v Wanted(%q) = %v, want %v", c.d.Include, c.d.Exclude, c.db, got, c.want)
		}
	}
	if own.DiscoveryTTL != time.Minute || inherits.DiscoveryTTL != 5*time.Minute {
		t.Errorf("discovery_ttl: own %v, inherits %v", own.DiscoveryTTL, inherits.DiscoveryTTL)
	}
}
