package collector_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/certtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

func TestSecurityTellsSSLAndPlainConnectionsApart(t *testing.T) {
	certs := certtest.Write(t)
	s := pgtest.StartT(t, pgtest.Options{Conf: []string{
		"ssl = on",
		"ssl_cert_file = '" + certs.CertFile + "'",
		"ssl_key_file = '" + certs.KeyFile + "'",
	}})
	ctx := context.Background()
	if err := s.Exec(ctx, "postgres",
		"CREATE ROLE tls_user LOGIN PASSWORD 'tlspw'",
		"CREATE ROLE plain_user LOGIN PASSWORD 'plainpw'"); err != nil {
		t.Fatal(err)
	}
	tlsConn, err := pgx.Connect(ctx, strings.Replace(s.DSN("tls_user", "tlspw", "postgres"), "sslmode=disable", "sslmode=require", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer tlsConn.Close(ctx)
	plainConn, err := pgx.Connect(ctx, s.DSN("plain_user", "plainpw", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer plainConn.Close(ctx)

	monDSN, err := s.CreateMonitorRole(ctx, "tls_monitor", "monpw")
	if err != nil {
		t.Fatal(err)
	}
	r := scrapetest.New(t, monDSN, nil, "security").Scrape(t)
	r.RequireUp(t)
	for _, tc := range []struct {
		user, ssl string
		want      float64
	}{
		{"tls_user", "true", 1}, {"tls_user", "false", 0},
		{"plain_user", "false", 1}, {"plain_user", "true", 0},
	} {
		got, _ := r.Value("pg_stat_ssl_connections", map[string]string{"datname": "postgres", "usename": tc.user, "ssl": tc.ssl})
		if got != tc.want {
			t.Errorf("%s with ssl=%s: %v connections, want %v\n%s", tc.user, tc.ssl, got, tc.want, r.String("pg_stat_ssl_connections"))
		}
	}
	if v, _ := r.Value("pg_security_ssl_enabled", nil); v != 1 {
		t.Errorf("pg_security_ssl_enabled %v with ssl = on", v)
	}
}

func TestSecurityPostureRolesAndSettings(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "security")
	r0 := sc.Scrape(t)
	r0.RequireUp(t)
	if err := s.Exec(ctx, "postgres",
		"DROP ROLE IF EXISTS sec_expired, sec_forever, sec_super, sec_nologin",
		"CREATE ROLE sec_expired LOGIN PASSWORD 'x' VALID UNTIL '2001-01-01'",
		"CREATE ROLE sec_forever LOGIN PASSWORD 'x' VALID UNTIL 'infinity'",
		"CREATE ROLE sec_super SUPERUSER NOLOGIN",
		"CREATE ROLE sec_nologin NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Exec(context.Background(), "postgres", "DROP ROLE IF EXISTS sec_expired, sec_forever, sec_super, sec_nologin")
	})
	r1 := sc.Scrape(t)
	for name, delta := range map[string]float64{
		"pg_security_login_roles":                        2,
		"pg_security_login_roles_password_expired":       1,
		"pg_security_login_roles_password_never_expires": 1,
		"pg_security_superuser_roles":                    1,
	} {
		v0, _ := r0.Value(name, nil)
		v1, _ := r1.Value(name, nil)
		if v1-v0 != delta {
			t.Errorf("%s went from %v to %v, want +%v", name, v0, v1, delta)
		}
	}
	if v, _ := r1.Value("pg_security_password_encryption_info", map[string]string{"method": "scram-sha-256"}); v != 1 {
		t.Errorf("password_encryption:\n%s", r1.String("pg_security_password_encryption_info"))
	}
	if v, ok := r1.Value("pg_security_ssl_enabled", nil); !ok || v != 0 {
		t.Errorf("pg_security_ssl_enabled %v (present %v) on a server without ssl", v, ok)
	}
}
