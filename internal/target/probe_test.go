package target

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// probeModule is an auth module as a config file makes it (allowed_targets
// compiled), named m in probe.yml.
func probeModule(t testing.TB, extra string) config.AuthModule {
	t.Helper()
	cfg, err := config.Parse("probe.yml", []byte(`auth_modules:
  m:
    type: userpass
    userpass: {username: modsecretuser, password: modsecretpw}
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.AuthModules["m"]
}

const probeAllowed = `    options: {sslmode: require}
    allowed_targets:
      hosts: [db1.example.internal, "*.fleet.example.internal", 10.1.0.0/16, "fd00::/64"]
      ports: [5432, 6432]
`

func TestProbeAddressOfAnAllowedTarget(t *testing.T) {
	am := probeModule(t, probeAllowed)
	for addr, want := range map[string]struct {
		host string
		port uint16
		db   string
	}{
		"db1.example.internal/app":                        {"db1.example.internal", 5432, "app"},
		"DB1.Example.Internal.:6432/app":                  {"DB1.Example.Internal.", 6432, "app"},
		"pg-7.fleet.example.internal:5432/postgres":       {"pg-7.fleet.example.internal", 5432, "postgres"},
		"10.1.2.3:6432?dbname=app&sslmode=verify-full":    {"10.1.2.3", 6432, "app"},
		"postgresql://[fd00::1]:5432/x?connect_timeout=3": {"fd00::1", 5432, "x"},
	} {
		cc, _, err := addressTarget(addr, "m", am, "probe.yml")
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		if cc.Host != want.host || cc.Port != want.port || cc.Database != want.db || cc.User != "modsecretuser" || cc.Password != "modsecretpw" {
			t.Errorf("%s: %s:%d/%s user %s, want %v with the module's credentials", addr, cc.Host, cc.Port, cc.Database, cc.User, want)
		}
		if cc.TLSConfig == nil {
			t.Errorf("%s: no TLS, though the module asks for sslmode=require", addr)
		}
		for _, f := range cc.Fallbacks {
			if f.TLSConfig == nil {
				t.Errorf("%s: a fallback without TLS", addr)
			}
		}
	}
}

// Every way an address could send the module's credentials elsewhere, read
// a file, or weaken TLS is refused, and no refusal shows the module's user
// name, password or files.
func TestProbeAddressRefusals(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	am := probeModule(t, probeAllowed)
	for addr, want := range map[string]string{
		"evil.example.com:5432/x":      "may not be used for evil.example.com port 5432",
		"db1.example.internal:5433/x":  "may not be used for db1.example.internal port 5433",
		"a.b.fleet.example.internal/x": "may not be used for a.b.fleet.example.internal",
		"fleet.example.internal/x":     "may not be used for fleet.example.internal",
		"10.2.0.1/x":                   "may not be used for 10.2.0.1",
		"[::ffff:10.2.0.1]/x":          "may not be used for ::ffff:10.2.0.1",
		"127.1/x":                      "may not be used for 127.1",
		"db1.example.internal:5432,evil.example.com:5432/x": "may not be used for evil.example.com",
		"%2Ftmp/x":                                                     "is not an address",
		"postgresql:///x?host=/tmp":                                    "is not an address",
		"u:pw@db1.example.internal/x":                                  "carries credentials",
		"db1.example.internal/x?host=evil.example.com":                 `option "host"`,
		"db1.example.internal/x?hostaddr=10.9.9.9":                     `option "hostaddr"`,
		"db1.example.internal/x?port=1":                                `option "port"`,
		"db1.example.internal/x?sslrootcert=" + caFile:                 `option "sslrootcert"`,
		"db1.example.internal/x?sslcert=/etc/ssl/x.crt":                `option "sslcert"`,
		"db1.example.internal/x?sslkey=/etc/ssl/x.key":                 `option "sslkey"`,
		"db1.example.internal/x?passfile=/etc/passwd":                  `option "passfile"`,
		"db1.example.internal/x?service=prod":                          `option "service"`,
		"db1.example.internal/x?servicefile=/etc/pg_service.conf":      `option "servicefile"`,
		"db1.example.internal/x?user=postgres":                         `option "user"`,
		"db1.example.internal/x?password=x":                            `option "password"`,
		"db1.example.internal/x?sslmode=disable":                       "weaker than auth module",
		"db1.example.internal/x?sslmode=prefer":                        "weaker than auth module",
		"db1.example.internal/x?sslmode=sometimes":                     `sslmode="sometimes"`,
		"db1.example.internal/x?sslmode=require&sslmode=disable":       "sets option \"sslmode\" 2 times",
		"db1.example.internal/x?connect_timeout=soon":                  "is not a valid address",
		"http://db1.example.internal/x":                                "is not an address",
		"db1.example.internal/x#frag":                                  "is not an address",
		"db1.example.internal/" + strings.Repeat("x", maxProbeAddress): "bytes long",
		"db1.example.internal/%FF":                                     "not valid UTF-8",
		"db1.example.internal/x\xff":                                   "not valid UTF-8",
		"db1.example.internal?dbname=%C3":                              "not valid UTF-8",
		"db1.example.internal/app?dbname=other":                        "names database \"app\" and dbname=\"other\"",
	} {
		_, _, err := addressTarget(addr, "m", am, "probe.yml")
		var bad *BadRequestError
		var forbidden *ForbiddenError
		if err == nil || !errors.As(err, &bad) && !errors.As(err, &forbidden) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal containing %q", addr, err, want)
			continue
		}
		for _, secret := range []string{"modsecretuser", "modsecretpw", caFile + ": ", "no such file"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the refusal shows %q: %v", addr, secret, err)
			}
		}
	}
}

// A module without allowed_targets is used for nothing, and the refusal says
// where to list them.
func TestProbeModuleWithoutAllowedTargets(t *testing.T) {
	am := probeModule(t, "")
	_, _, err := addressTarget("db1.example.internal:5432/x", "m", am, "probe.yml")
	var forbidden *ForbiddenError
	if !errors.As(err, &forbidden) || !strings.Contains(err.Error(), "lists no allowed_targets") || !strings.Contains(err.Error(), "auth_modules.m.allowed_targets in probe.yml") {
		t.Fatalf("%v, want a refusal naming auth_modules.m.allowed_targets in probe.yml", err)
	}
}

// A module's password file is read for each new probe target; one that
// became unreadable is an error that the handler does not show.
func TestProbeModulePasswordFile(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("frompwfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("probe.yml", []byte("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password_file: "+pw+"}\n    allowed_targets: {hosts: [db1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(cfg); err != nil {
		t.Fatal(err)
	}
	cc, _, err := addressTarget("db1/x", "m", cfg.AuthModules["m"], "probe.yml")
	if err != nil {
		t.Fatal(err)
	}
	if cc.Password != "frompwfile" {
		t.Fatalf("password %q, want the file's", cc.Password)
	}
	if err := os.Remove(pw); err != nil {
		t.Fatal(err)
	}
	_, _, err = addressTarget("db1/x", "m", cfg.AuthModules["m"], "probe.yml")
	var bad *BadRequestError
	var forbidden *ForbiddenError
	if err == nil || errors.As(err, &bad) || errors.As(err, &forbidden) {
		t.Fatalf("%v, want a plain error (500, details in the log)", err)
	}
	// At load, the same file is an error with the module's line.
	if _, err := Prepare(cfg); err == nil || !strings.Contains(err.Error(), "probe.yml:3: auth module \"m\": cannot read userpass.password_file") {
		t.Fatalf("Prepare: %v", err)
	}
}

// An auth module whose options cannot work (a missing certificate file) is
// found when the file loads.
func TestPrepareChecksAuthModuleOptions(t *testing.T) {
	cfg, err := config.Parse("probe.yml", []byte("targets: []\nauth_modules:\n  m:\n    type: userpass\n    userpass: {username: u, password: p}\n    options: {sslmode: verify-full, sslrootcert: /nonexistent/ca.pem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(cfg); err == nil || !strings.Contains(err.Error(), `probe.yml:4: auth module "m": its options are not valid connection options`) {
		t.Fatalf("Prepare: %v", err)
	}
}

// Reading a probe address opens no file, not even one the environment
// names, so its refusals cannot tell whether a file exists.
func TestProbeAddressReadsNoFile(t *testing.T) {
	t.Setenv("PGSSLROOTCERT", "/nonexistent/env-ca.pem")
	t.Setenv("PGSSLCERT", "/nonexistent/env-cert.pem")
	am := probeModule(t, probeAllowed)
	for _, addr := range []string{"db1.example.internal:99999/x", "db1.example.internal/x?sslmode=verify-full&connect_timeout=x", "evil.example.com/x?sslmode=verify-full"} {
		_, _, err := addressTarget(addr, "m", am, "probe.yml")
		if err == nil || strings.Contains(err.Error(), "nonexistent") || strings.Contains(err.Error(), "no such file") {
			t.Errorf("%s: %v, want a refusal that names no file", addr, err)
		}
	}
}

// An address names a database by its path or its dbname option, and that
// database is the one connected to, over the module's dbname, which serves
// addresses that name none.
func TestProbeAddressNamesADatabase(t *testing.T) {
	cfg, err := config.Parse("probe.yml", []byte("auth_modules:\n  m:\n    type: userpass\n    userpass: {username: u}\n    options: {dbname: postgres}\n    allowed_targets: {hosts: [db1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	am := cfg.AuthModules["m"]
	for addr, want := range map[string]struct {
		names bool
		db    string
	}{
		"db1:5432":                {false, "postgres"},
		"db1:5432/app":            {true, "app"},
		"db1/app?sslmode=require": {true, "app"},
		"db1?dbname=app":          {true, "app"},
		"postgres://db1/app":      {true, "app"},
	} {
		cc, names, err := addressTarget(addr, "m", am, "probe.yml")
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if names != want.names || cc.Database != want.db {
			t.Errorf("%s: names a database %v, connects to %q; want %v, %q", addr, names, cc.Database, want.names, want.db)
		}
	}
}
