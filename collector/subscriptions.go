package collector

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const (
	srcSubscription = "pg_subscription, pg_stat_subscription"
	srcSubStats     = "pg_stat_subscription_stats"
)

var (
	subLabels  = []string{"datname", "subname"}
	subEnabled = metric.Gauge("pg_subscription_enabled",
		"1 if the subscription is enabled, 0 if it was disabled (by ALTER SUBSCRIPTION or, with disable_on_error, by an apply error). One series set per subscription of the server.",
		srcSubscription, "13+", subLabels...)
	subWorkers = metric.Gauge("pg_subscription_workers",
		"Logical replication workers running for the subscription, by type: apply (the leader, 0 means nothing is being applied), parallel_apply (16+; 0 before) and table_sync.",
		srcSubscription, "13+", "datname", "subname", "worker_type")
	subLastSend = metric.Gauge("pg_subscription_last_msg_send_timestamp_seconds",
		"Send time of the last message the apply worker received from the publisher (absent while no apply worker runs).",
		srcSubscription, "13+", subLabels...)
	subLastReceipt = metric.Gauge("pg_subscription_last_msg_receipt_timestamp_seconds",
		"When the apply worker last received a message from the publisher (absent while no apply worker runs).",
		srcSubscription, "13+", subLabels...)
	subLatestEnd = metric.Gauge("pg_subscription_latest_end_timestamp_seconds",
		"Time of the last WAL position the apply worker reported back to the publisher (absent while no apply worker runs).",
		srcSubscription, "13+", subLabels...)
	subApplyErrors = metric.Counter("pg_subscription_apply_errors_total",
		"Errors while applying changes from the publisher.", srcSubStats, "15+", subLabels...)
	subSyncErrors = metric.Counter("pg_subscription_sync_errors_total",
		"Errors during the initial copy of a table.", srcSubStats, "15+", subLabels...)
	subConflicts = metric.Counter("pg_subscription_conflicts_total",
		"Conflicts met while applying changes, by type (insert_exists, update_origin_differs, update_exists, update_missing, delete_origin_differs, delete_missing, multiple_unique_conflicts).",
		srcSubStats, "18+", "datname", "subname", "conflict")
)

var (
	subWorkerTypes   = []string{"apply", "parallel_apply", "table_sync"}
	subConflictTypes = []string{"insert_exists", "update_origin_differs", "update_exists", "update_missing",
		"delete_origin_differs", "delete_missing", "multiple_unique_conflicts"}
)

func init() {
	Register(&Spec{
		Name:    "subscriptions",
		Help:    "Logical replication subscriptions: enabled, workers running, last message times and, on 15+, apply and sync error counts (18+: conflicts) from pg_stat_subscription and pg_stat_subscription_stats",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{subEnabled, subWorkers, subLastSend, subLastReceipt, subLatestEnd,
			subApplyErrors, subSyncErrors, subConflicts},
		New: func(Options) (Collector, error) { return subscriptionsCollector{}, nil },
	})
}

type subscriptionsCollector struct{}

// pg_subscription grants SELECT on some columns only (never subconninfo, which
// may hold a password), so the queries name the columns they read; 13 does
// not grant oid, and there a subscription is matched to its workers by name,
// which is unique only within a database: a name used in several databases
// gets no worker series there rather than someone else's. pg_stat_subscription
// has a row per running worker plus one with a NULL pid for a subscription
// whose apply worker is not running; table sync workers have a relid,
// parallel apply workers (16+) a leader_pid.
const subscriptionsQueryBase = `SELECT d.datname::text, s.subname::text, s.subenabled, %MATCHED%,
 count(w.pid) FILTER (WHERE w.relid IS NULL AND %LEADER%)::float8,
 count(w.pid) FILTER (WHERE w.relid IS NULL AND NOT (%LEADER%))::float8,
 count(w.pid) FILTER (WHERE w.relid IS NOT NULL)::float8,
 EXTRACT(EPOCH FROM max(w.last_msg_send_time) FILTER (WHERE w.relid IS NULL AND %LEADER%))::float8,
 EXTRACT(EPOCH FROM max(w.last_msg_receipt_time) FILTER (WHERE w.relid IS NULL AND %LEADER%))::float8,
 EXTRACT(EPOCH FROM max(w.latest_end_time) FILTER (WHERE w.relid IS NULL AND %LEADER%))::float8
 FROM pg_subscription s
 JOIN pg_database d ON d.oid = s.subdbid
 LEFT JOIN pg_stat_subscription w ON %JOIN% AND %MATCHED%
 GROUP BY 1, 2, 3, 4`

var (
	subscriptionsQuery13 = strings.NewReplacer("%LEADER%", "true", "%JOIN%", "w.subname = s.subname",
		"%MATCHED%", "NOT EXISTS (SELECT 1 FROM pg_subscription o WHERE o.subname = s.subname AND o.subdbid <> s.subdbid)").
		Replace(subscriptionsQueryBase)
	subscriptionsQuery14 = strings.NewReplacer("%LEADER%", "true", "%JOIN%", "w.subid = s.oid", "%MATCHED%", "true").
				Replace(subscriptionsQueryBase)
	subscriptionsQuery16 = strings.NewReplacer("%LEADER%", "w.leader_pid IS NULL", "%JOIN%", "w.subid = s.oid", "%MATCHED%", "true").
				Replace(subscriptionsQueryBase)
)

const (
	subStatsQuery15 = `SELECT d.datname::text, s.subname::text, st.apply_error_count::float8, st.sync_error_count::float8
 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid JOIN pg_stat_subscription_stats st ON st.subid = s.oid`
	subStatsQuery18 = `SELECT d.datname::text, s.subname::text, st.apply_error_count::float8, st.sync_error_count::float8,
 st.confl_insert_exists::float8, st.confl_update_origin_differs::float8, st.confl_update_exists::float8,
 st.confl_update_missing::float8, st.confl_delete_origin_differs::float8, st.confl_delete_missing::float8,
 st.confl_multiple_unique_conflicts::float8
 FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid JOIN pg_stat_subscription_stats st ON st.subid = s.oid`
)

func (subscriptionsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := subscriptionsQuery13
	switch {
	case s.Facts.VersionNum >= 160000:
		q = subscriptionsQuery16
	case s.Facts.VersionNum >= 140000:
		q = subscriptionsQuery14
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			db, name                  string
			enabled, matched          bool
			apply, parallel, sync     float64
			sent, received, latestEnd *float64
		)
		if err := rows.Scan(&db, &name, &enabled, &matched, &apply, &parallel, &sync, &sent, &received, &latestEnd); err != nil {
			return err
		}
		subEnabled.Emit(ch, b2f(enabled), db, name)
		if !matched {
			continue
		}
		for i, n := range []float64{apply, parallel, sync} {
			subWorkers.Emit(ch, n, db, name, subWorkerTypes[i])
		}
		emitIf(ch, subLastSend, sent, db, name)
		emitIf(ch, subLastReceipt, received, db, name)
		emitIf(ch, subLatestEnd, latestEnd, db, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if s.Facts.VersionNum < 150000 {
		return nil
	}
	return subscriptionStats(ctx, s, ch)
}

func subscriptionStats(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q, conflicts := subStatsQuery15, 0
	if s.Facts.VersionNum >= 180000 {
		q, conflicts = subStatsQuery18, len(subConflictTypes)
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var db, name string
		v := make([]float64, 2+conflicts)
		dest := []any{&db, &name}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		subApplyErrors.Emit(ch, v[0], db, name)
		subSyncErrors.Emit(ch, v[1], db, name)
		for i := 0; i < conflicts; i++ {
			subConflicts.Emit(ch, v[2+i], db, name, subConflictTypes[i])
		}
	}
	return rows.Err()
}
