package collector

import (
	"context"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	driftPending = metric.Gauge("pg_settings_pending_restart",
		"1 for each setting changed in the configuration files and reloaded, but not in effect until the server restarts; only such settings have a series (bounded by the number of settings).",
		"pg_settings", "13+", "name")
	driftPendingCount = metric.Gauge("pg_settings_pending_restarts",
		"Settings waiting for a restart (the number of pg_settings_pending_restart series).", "pg_settings", "13+")
	driftNonDefault = metric.Gauge("pg_settings_non_default",
		"Settings not at their built-in default, by where the value comes from (configuration file, command line, environment variable, and the ALTER DATABASE/ROLE sources database, user, database user, global that the exporter's own session sees); values the client or session set and values the server computes (override) are left out.",
		"pg_settings", "13+", "source")
	driftHash = metric.Gauge("pg_settings_hash",
		"A 53-bit hash (exact as a float) of the names and values of the settings taken from the configuration files, the command line and the environment, less those that differ by host or role by design (docs/collectors/config-drift.md lists them). Two servers with the same value run the same server-wide configuration.",
		"pg_settings", "13+")
	driftReadable = metric.Gauge("pg_config_files_readable",
		"1 if the exporter's role may read the view, 0 if not: PostgreSQL grants pg_file_settings and pg_hba_file_rules to superusers only, not to pg_monitor, and their error counts are then absent (not 0).",
		"pg_file_settings, pg_hba_file_rules", "13+", "view")
	driftFileErrors = metric.Gauge("pg_settings_file_errors",
		"Entries of the configuration files (postgresql.conf, its includes, postgresql.auto.conf) that cannot be applied: syntax errors, unknown settings, invalid values. A changed setting that needs a restart is not counted here (see pg_settings_pending_restart). The files are read as they are now, so an error shows before the reload that would meet it.",
		"pg_file_settings", "13+")
	driftHbaErrors = metric.Gauge("pg_hba_file_rules_errors",
		"Lines of pg_hba.conf (as it is now on disk) that cannot be loaded; a reload keeps the previous rules while there is one.",
		"pg_hba_file_rules", "13+")
)

func init() {
	Register(&Spec{
		Name:    "config_drift",
		Help:    "Configuration drift: settings waiting for a restart, non-default settings by source, a hash of the server-wide settings to compare servers, and errors in the configuration and pg_hba.conf files",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{driftPending, driftPendingCount, driftNonDefault, driftHash, driftReadable, driftFileErrors, driftHbaErrors},
		New:     func(Options) (Collector, error) { return configDriftCollector{}, nil },
	})
}

type configDriftCollector struct{}

// hashedSources are where a server-wide setting comes from; the others are
// defaults, values computed by the server, or set per database, role, client
// or session.
var hashedSources = map[string]bool{"configuration file": true, "command line": true, "environment variable": true}

// unhashedSettings differ between the members of a cluster by design: paths,
// addresses and ports of one host, and the settings of a standby's recovery.
var unhashedSettings = map[string]bool{
	"data_directory": true, "config_file": true, "hba_file": true, "ident_file": true, "external_pid_file": true,
	"listen_addresses": true, "port": true, "unix_socket_directories": true, "bonjour_name": true, "cluster_name": true,
	"ssl_cert_file": true, "ssl_key_file": true,
	"primary_conninfo": true, "primary_slot_name": true, "restore_command": true, "archive_cleanup_command": true,
	"recovery_end_command": true, "recovery_min_apply_delay": true, "promote_trigger_file": true,
}

// unhashedPrefixes name groups of such settings.
var unhashedPrefixes = []string{"recovery_target"}

func hashed(name, source string) bool {
	if !hashedSources[source] || unhashedSettings[name] {
		return false
	}
	for _, p := range unhashedPrefixes {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

// mantissa keeps 53 bits of a hash, the integers a float64 holds exactly.
const mantissa = 1<<53 - 1

const (
	driftSettingsQuery = `SELECT name, COALESCE(setting, ''), source, pending_restart FROM pg_settings ORDER BY name`
	// A file entry for a setting of context postmaster that cannot be applied
	// is a change waiting for a restart, which pg_settings reports.
	driftFileErrorsQuery = `SELECT count(*) FILTER (WHERE f.error IS NOT NULL AND s.context IS DISTINCT FROM 'postmaster')::float8
 FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = f.name`
	driftHbaErrorsQuery = `SELECT count(*) FILTER (WHERE error IS NOT NULL)::float8 FROM pg_hba_file_rules`
)

func (configDriftCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, driftSettingsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	h := fnv.New64a()
	bySource := map[string]float64{}
	var pending []string
	for rows.Next() {
		var name, setting, source string
		var restart bool
		if err := rows.Scan(&name, &setting, &source, &restart); err != nil {
			return err
		}
		if restart {
			pending = append(pending, name)
		}
		switch source {
		case "default", "override", "client", "session":
		default:
			bySource[source]++
		}
		if hashed(name, source) {
			h.Write([]byte(name + "=" + setting + "\n"))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	sort.Strings(pending)
	for _, name := range pending {
		driftPending.Emit(ch, 1, name)
	}
	driftPendingCount.Emit(ch, float64(len(pending)))
	for _, src := range sortedKeys(bySource) {
		driftNonDefault.Emit(ch, bySource[src], src)
	}
	driftHash.Emit(ch, float64(h.Sum64()&mantissa))

	for _, v := range []struct {
		view, function, query string
		m                     *metric.Metric
	}{
		{"pg_file_settings", "pg_show_all_file_settings()", driftFileErrorsQuery, driftFileErrors},
		{"pg_hba_file_rules", "pg_hba_file_rules()", driftHbaErrorsQuery, driftHbaErrors},
	} {
		var n float64
		ok, err := queryPermitted(ctx, s, v.view, v.function, v.query, func(r pgx.Rows) error { return r.Scan(&n) })
		if err != nil {
			return err
		}
		driftReadable.Emit(ch, b2f(ok), v.view)
		if ok {
			v.m.Emit(ch, n)
		}
	}
	return nil
}
