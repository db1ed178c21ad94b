package collector

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

const srcActivity = "pg_stat_activity"

// stateStarting is pg_stat_activity.state of a backend that is still
// starting up and authenticating (PostgreSQL 18 and later).
const stateStarting = "starting"

var (
	actConns = metric.Gauge("pg_stat_activity_connections",
		"Client backends by database, user, application_name, state and wait event type. Bounded by activity.max_label_sets: the largest groups keep their labels, the rest are added up in one series whose labels are all __other__.",
		srcActivity, "13+", "datname", "usename", "application_name", "state", "wait_event_type")
	actBackends = metric.Gauge("pg_stat_activity_backends",
		"Server processes by backend type (client backend, autovacuum worker, walsender, background worker, ...).",
		srcActivity, "13+", "backend_type")
	actInUse = metric.Gauge("pg_connections_in_use",
		"Client backends, the sessions that take a max_connections slot.",
		srcActivity, "13+")
	actMax = metric.Gauge("pg_connections_max",
		"max_connections.", "pg_settings", "13+")
	actReserved = metric.Gauge("pg_connections_reserved",
		"Slots of max_connections kept for superusers (superuser_reserved_connections) and, on 16+, for roles with pg_use_reserved_connections (reserved_connections); ordinary roles can use max minus reserved.",
		"pg_settings", "13+")
	actMaxTx = metric.Gauge("pg_stat_activity_max_tx_duration_seconds",
		"Age of the oldest open transaction of client backends, by database and state; the exporter's own sessions, and backends still starting (state starting, 18+), are left out.",
		srcActivity, "13+", "datname", "state")
	actMaxQuery = metric.Gauge("pg_stat_activity_max_query_duration_seconds",
		"Run time of the oldest statement still running (states active and fastpath function call) of client backends, by database and state; the exporter's own sessions are left out.",
		srcActivity, "13+", "datname", "state")
	actIdleInTx = metric.Gauge("pg_stat_activity_idle_in_transaction_sessions",
		"Client backends idle inside a transaction (states idle in transaction and idle in transaction (aborted)), by database; the exporter's own sessions are left out.",
		srcActivity, "13+", "datname")
	actIdleInTxMax = metric.Gauge("pg_stat_activity_idle_in_transaction_max_duration_seconds",
		"How long the longest-idle session inside a transaction has been idle, by database (absent when there is none).",
		srcActivity, "13+", "datname")
	actLong = metric.Gauge("pg_long_running_transactions",
		"Client backends whose transaction is older than activity.long_transaction_threshold, by database; the exporter's own sessions, and backends still starting (state starting, 18+), are left out.",
		srcActivity, "13+", "datname")
	actLongThreshold = metric.Gauge("pg_long_running_transactions_threshold_seconds",
		"The threshold pg_long_running_transactions counts against (activity.long_transaction_threshold).",
		"exporter", "13+")
)

func init() {
	Register(&Spec{
		Name:    "activity",
		Help:    "Sessions by database, user, application, state and wait; connections against max_connections; oldest transactions and statements; idle-in-transaction and long-running sessions, from pg_stat_activity",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{actConns, actBackends, actInUse, actMax, actReserved, actMaxTx, actMaxQuery,
			actIdleInTx, actIdleInTxMax, actLong, actLongThreshold},
		New: func(o Options) (Collector, error) {
			return &activityCollector{threshold: o.Config.Activity.LongTransactionThreshold, limit: o.Config.Activity.MaxLabelSets}, nil
		},
	})
}

type activityCollector struct {
	threshold time.Duration
	limit     int
}

// activityQuery groups pg_stat_activity by everything the metrics break down
// by; Go adds the groups up further. The ages are clamped at 0 because a
// session can start after this statement's now().
const activityQuery = `SELECT COALESCE(datname, ''), COALESCE(usename, ''), COALESCE(application_name, ''),
 COALESCE(state, ''), COALESCE(wait_event_type, ''), COALESCE(backend_type, ''),
 COALESCE(application_name = '` + target.ApplicationName + `', false),
 count(*)::float8,
 max(GREATEST(EXTRACT(EPOCH FROM now() - xact_start), 0))::float8,
 max(GREATEST(EXTRACT(EPOCH FROM now() - query_start), 0))::float8,
 max(GREATEST(EXTRACT(EPOCH FROM now() - state_change), 0))::float8,
 count(*) FILTER (WHERE xact_start < now() - make_interval(secs => $1::float8))::float8
 FROM pg_stat_activity
 GROUP BY 1, 2, 3, 4, 5, 6, 7`

type activityRow struct {
	datname, usename, app, state, wait, backendType string
	own                                             bool
	n                                               float64
	xactAge, queryAge, stateAge                     *float64
	long                                            float64
}

func (c *activityCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, activityQuery, c.threshold.Seconds())
	if err != nil {
		return err
	}
	var all []activityRow
	for rows.Next() {
		var r activityRow
		if err := rows.Scan(&r.datname, &r.usename, &r.app, &r.state, &r.wait, &r.backendType, &r.own,
			&r.n, &r.xactAge, &r.queryAge, &r.stateAge, &r.long); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	type dbState struct{ db, state string }
	var (
		conns       = newBreakdown(5)
		backends    = map[string]float64{}
		inUse       float64
		maxTx       = map[dbState]float64{}
		maxQuery    = map[dbState]float64{}
		idleInTx    = map[string]float64{}
		idleInTxMax = map[string]float64{}
		long        = map[string]float64{}
	)
	for _, r := range all {
		backends[r.backendType] += r.n
		if r.backendType != "client backend" {
			continue
		}
		inUse += r.n
		conns.add(r.n, r.datname, r.usename, r.app, r.state, r.wait)
		// PostgreSQL 18 lists a backend while it starts (state starting,
		// until authentication is done and the database is loaded), with
		// the transaction the server opens for that. No client has begun
		// it, and neither database nor application_name is known yet, so
		// the exporter's own connections could not be told apart: such a
		// backend counts as a connection only.
		if r.state == stateStarting {
			continue
		}
		if _, ok := long[r.datname]; !ok {
			long[r.datname] = 0
			idleInTx[r.datname] = 0
		}
		if r.own {
			continue
		}
		k := dbState{r.datname, r.state}
		if r.xactAge != nil {
			maxTx[k] = max(maxTx[k], *r.xactAge)
		}
		if r.queryAge != nil && (r.state == "active" || r.state == "fastpath function call") {
			maxQuery[k] = max(maxQuery[k], *r.queryAge)
		}
		if r.state == "idle in transaction" || r.state == "idle in transaction (aborted)" {
			idleInTx[r.datname] += r.n
			if r.stateAge != nil {
				idleInTxMax[r.datname] = max(idleInTxMax[r.datname], *r.stateAge)
			}
		}
		long[r.datname] += r.long
	}

	for _, set := range conns.top(c.limit) {
		actConns.Emit(ch, set.value, set.labels...)
	}
	for _, bt := range sortedKeys(backends) {
		actBackends.Emit(ch, backends[bt], bt)
	}
	actInUse.Emit(ch, inUse)
	actMax.Emit(ch, float64(s.Facts.SettingInt("max_connections", 0)))
	actReserved.Emit(ch, float64(s.Facts.SettingInt("superuser_reserved_connections", 0)+s.Facts.SettingInt("reserved_connections", 0)))
	for k, v := range maxTx {
		actMaxTx.Emit(ch, v, k.db, k.state)
	}
	for k, v := range maxQuery {
		actMaxQuery.Emit(ch, v, k.db, k.state)
	}
	for db, n := range idleInTx {
		actIdleInTx.Emit(ch, n, db)
	}
	for db, v := range idleInTxMax {
		actIdleInTxMax.Emit(ch, v, db)
	}
	for db, n := range long {
		actLong.Emit(ch, n, db)
	}
	actLongThreshold.Emit(ch, c.threshold.Seconds())
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
