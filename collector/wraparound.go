package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

var (
	wrapFrozen = metric.Gauge("pg_database_wraparound_age_datfrozenxid",
		"Transactions since the database was last frozen completely: age(datfrozenxid). Autovacuum forces a freeze at autovacuum_freeze_max_age; the server stops assigning transaction IDs near 2^31.",
		"pg_database", "13+", "datname")
	wrapMinMxid = metric.Gauge("pg_database_wraparound_age_datminmxid",
		"Multixacts since the database's oldest remaining multixact: mxid_age(datminmxid).",
		"pg_database", "13+", "datname")
	wrapFreezeMax = metric.Gauge("pg_database_wraparound_freeze_max_age",
		"autovacuum_freeze_max_age: the datfrozenxid age at which autovacuum forces an anti-wraparound vacuum.",
		"pg_settings", "13+")
	wrapMxFreezeMax = metric.Gauge("pg_database_wraparound_multixact_freeze_max_age",
		"autovacuum_multixact_freeze_max_age: the datminmxid age at which autovacuum forces an anti-wraparound vacuum.",
		"pg_settings", "13+")
	wrapHorizon = metric.Gauge("pg_xmin_horizon_age",
		"Age in transactions of the oldest xmin each kind of holder keeps, 0 when it keeps none: holder=backend (backend_xmin or backend_xid of any backend but the exporter's, including walsenders with hot_standby_feedback), replication_slot (xmin), replication_slot_catalog (catalog_xmin), prepared_transaction. VACUUM cannot remove rows newer than the oldest of them.",
		"pg_stat_activity, pg_replication_slots, pg_prepared_xacts", "13+", "holder")
	wrapPrepared = metric.Gauge("pg_prepared_transactions",
		"Transactions prepared for two-phase commit and not yet committed or rolled back.",
		"pg_prepared_xacts", "13+")
	wrapPreparedAge = metric.Gauge("pg_prepared_transactions_max_age_seconds",
		"Time since the oldest prepared transaction was prepared, 0 when there is none.",
		"pg_prepared_xacts", "13+")
)

func init() {
	Register(&Spec{
		Name:    "wraparound",
		Help:    "Transaction ID and multixact age per database, what holds back the xmin horizon, and prepared transactions",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{wrapFrozen, wrapMinMxid, wrapFreezeMax, wrapMxFreezeMax, wrapHorizon, wrapPrepared, wrapPreparedAge},
		New:     func(Options) (Collector, error) { return wraparoundCollector{}, nil },
	})
}

type wraparoundCollector struct{}

const wraparoundDatabaseQuery = `SELECT datname, age(datfrozenxid)::float8, mxid_age(datminmxid)::float8 FROM pg_database`

// One row; each subquery reads one view. age() of a NULL xid is NULL.
const wraparoundHorizonQuery = `SELECT
 (SELECT COALESCE(max(GREATEST(age(backend_xmin), age(backend_xid))), 0) FROM pg_stat_activity
   WHERE application_name IS DISTINCT FROM '` + target.ApplicationName + `')::float8,
 (SELECT COALESCE(max(age(xmin)), 0) FROM pg_replication_slots)::float8,
 (SELECT COALESCE(max(age(catalog_xmin)), 0) FROM pg_replication_slots)::float8,
 p.xid_age::float8, p.n::float8, p.max_age::float8
 FROM (SELECT COALESCE(max(age(transaction)), 0) AS xid_age, count(*) AS n,
   COALESCE(max(GREATEST(EXTRACT(EPOCH FROM now() - prepared), 0)), 0) AS max_age FROM pg_prepared_xacts) p`

func (wraparoundCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, wraparoundDatabaseQuery)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var xid, mxid float64
		if err := rows.Scan(&name, &xid, &mxid); err != nil {
			rows.Close()
			return err
		}
		wrapFrozen.Emit(ch, xid, name)
		wrapMinMxid.Emit(ch, mxid, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var backend, slot, slotCatalog, prepared, n, age float64
	if err := s.Conn.QueryRow(ctx, wraparoundHorizonQuery).Scan(&backend, &slot, &slotCatalog, &prepared, &n, &age); err != nil {
		return err
	}
	wrapFreezeMax.Emit(ch, float64(s.Facts.SettingInt("autovacuum_freeze_max_age", 0)))
	wrapMxFreezeMax.Emit(ch, float64(s.Facts.SettingInt("autovacuum_multixact_freeze_max_age", 0)))
	wrapHorizon.Emit(ch, backend, "backend")
	wrapHorizon.Emit(ch, slot, "replication_slot")
	wrapHorizon.Emit(ch, slotCatalog, "replication_slot_catalog")
	wrapHorizon.Emit(ch, prepared, "prepared_transaction")
	wrapPrepared.Emit(ch, n)
	wrapPreparedAge.Emit(ch, age)
	return nil
}
