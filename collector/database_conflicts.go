package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var dbConflictsByReason = metric.Counter("pg_stat_database_conflicts_by_reason_total",
	"On a standby: queries cancelled by recovery conflicts, by database and reason: tablespace (dropped), lock (waited for a lock replay needed), snapshot (rows vacuumed on the primary), bufferpin (a pinned buffer), deadlock, and on 16+ active_logicalslot (a logical slot replay removed). Absent on a primary.",
	"pg_stat_database_conflicts", "13+", "datname", "reason")

var conflictReasons = []string{"tablespace", "lock", "snapshot", "bufferpin", "deadlock", "active_logicalslot"}

func init() {
	Register(&Spec{
		Name:    "database_conflicts",
		Help:    "Recovery conflicts on a standby by database and reason from pg_stat_database_conflicts (nothing on a primary)",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{dbConflictsByReason},
		New:     func(Options) (Collector, error) { return databaseConflictsCollector{}, nil },
	})
}

type databaseConflictsCollector struct{}

const (
	dbConflictsQuery13 = `SELECT datname::text, confl_tablespace::float8, confl_lock::float8, confl_snapshot::float8,
 confl_bufferpin::float8, confl_deadlock::float8
 FROM pg_stat_database_conflicts WHERE datname IS NOT NULL`
	dbConflictsQuery16 = `SELECT datname::text, confl_tablespace::float8, confl_lock::float8, confl_snapshot::float8,
 confl_bufferpin::float8, confl_deadlock::float8, confl_active_logicalslot::float8
 FROM pg_stat_database_conflicts WHERE datname IS NOT NULL`
)

// Recovery conflicts happen only during recovery, so on a primary the
// counters are all 0 and the collector does not apply. The facts read the
// role at the start of every scrape, as a promotion changes it.
func (databaseConflictsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	if !s.Facts.InRecovery {
		return ErrNotApplicable
	}
	q, reasons := dbConflictsQuery13, conflictReasons[:5]
	if s.Facts.VersionNum >= 160000 {
		q, reasons = dbConflictsQuery16, conflictReasons
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var db string
		v := make([]float64, len(reasons))
		dest := []any{&db}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, r := range reasons {
			dbConflictsByReason.Emit(ch, v[i], db, r)
		}
	}
	return rows.Err()
}
