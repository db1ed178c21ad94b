package collector

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	secSSLConns = metric.Gauge("pg_stat_ssl_connections",
		"Client and replication connections by database, user and whether they use SSL. Bounded by activity.max_label_sets: the largest groups keep their labels, the rest are added up under __other__.",
		"pg_stat_ssl, pg_stat_activity", "13+", "datname", "usename", "ssl")
	secSSL = metric.Gauge("pg_security_ssl_enabled",
		"1 if the server accepts SSL connections (ssl = on).", "pg_settings", "13+")
	secPwEnc = metric.Gauge("pg_security_password_encryption_info",
		"Always 1; method is password_encryption, how new passwords are stored (scram-sha-256 or md5).", "pg_settings", "13+", "method")
	secSuper = metric.Gauge("pg_security_superuser_roles",
		"Roles with the superuser attribute.", "pg_roles", "13+")
	secLogin = metric.Gauge("pg_security_login_roles",
		"Roles that can log in.", "pg_roles", "13+")
	secExpired = metric.Gauge("pg_security_login_roles_password_expired",
		"Login roles whose password has expired (rolvaliduntil in the past); whether they have a password at all is not visible without superuser.", "pg_roles", "13+")
	secNoExpiry = metric.Gauge("pg_security_login_roles_password_never_expires",
		"Login roles whose password never expires (no rolvaliduntil, or infinity).", "pg_roles", "13+")
)

func init() {
	Register(&Spec{
		Name:    "security",
		Help:    "Connections with and without SSL, ssl and password_encryption settings, superuser and login roles, password expiry, from what pg_monitor can read",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{secSSLConns, secSSL, secPwEnc, secSuper, secLogin, secExpired, secNoExpiry},
		New: func(o Options) (Collector, error) {
			return &securityCollector{limit: o.Config.Activity.MaxLabelSets}, nil
		},
	})
}

type securityCollector struct {
	limit int
}

const (
	securitySSLQuery = `SELECT COALESCE(a.datname, ''), COALESCE(a.usename, ''), COALESCE(s.ssl, false), count(*)::float8
 FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid
 WHERE a.backend_type IN ('client backend', 'walsender')
 GROUP BY 1, 2, 3`
	// current_setting shows what this session sees; neither setting can be
	// changed by the exporter's connection parameters.
	securityPostureQuery = `SELECT current_setting('ssl') = 'on', current_setting('password_encryption'),
 count(*) FILTER (WHERE rolsuper)::float8,
 count(*) FILTER (WHERE rolcanlogin)::float8,
 count(*) FILTER (WHERE rolcanlogin AND rolvaliduntil < now())::float8,
 count(*) FILTER (WHERE rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil = 'infinity'))::float8
 FROM pg_roles`
)

func (c *securityCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, securitySSLQuery)
	if err != nil {
		return err
	}
	conns := newBreakdown(3)
	for rows.Next() {
		var db, user string
		var ssl bool
		var n float64
		if err := rows.Scan(&db, &user, &ssl, &n); err != nil {
			rows.Close()
			return err
		}
		conns.add(n, db, user, strconv.FormatBool(ssl))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, set := range conns.top(c.limit) {
		secSSLConns.Emit(ch, set.value, set.labels...)
	}
	var ssl bool
	var pwEnc string
	var super, login, expired, noExpiry float64
	if err := s.Conn.QueryRow(ctx, securityPostureQuery).Scan(&ssl, &pwEnc, &super, &login, &expired, &noExpiry); err != nil {
		return err
	}
	if ssl {
		secSSL.Emit(ch, 1)
	} else {
		secSSL.Emit(ch, 0)
	}
	secPwEnc.Emit(ch, 1, pwEnc)
	secSuper.Emit(ch, super)
	secLogin.Emit(ch, login)
	secExpired.Emit(ch, expired)
	secNoExpiry.Emit(ch, noExpiry)
	return nil
}
