package mixin

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/pghardening/pg_hardening_exporter/mixin/dashboards"
)

// Dashboards returns the dashboards' configuration drawn from the rule pack's:
// the same SLOs and alert thresholds (the job comes from a dashboard variable), so a threshold changed in one
// file moves the alert and the line drawn on its panel together.
func (c *Config) Dashboards() dashboards.Config {
	d := dashboards.Defaults()
	d.SLOAvailability = c.SLO.Availability
	d.SLOLatencyP95 = c.SLO.LatencyP95
	d.SLOLatencyP99 = c.SLO.LatencyP99
	tiers := func(alert string, dst *[2]float64) {
		if s := alertByName(alert); s != nil {
			r := c.resolve(s)
			if r.warning != nil {
				dst[0] = *r.warning
			}
			if r.critical != nil {
				dst[1] = *r.critical
			}
		}
	}
	one := func(alert string, dst *float64) {
		if s := alertByName(alert); s != nil {
			r := c.resolve(s)
			switch {
			case r.warning != nil:
				*dst = *r.warning
			case r.critical != nil:
				*dst = *r.critical
			case r.info != nil:
				*dst = *r.info
			}
		}
	}
	tiers("PostgresPoolUtilizationHigh", &d.PoolUtilization)
	if s := alertByName("PostgresPoolExhausted"); s != nil {
		if r := c.resolve(s); r.critical != nil {
			d.PoolUtilization[1] = *r.critical
		}
	}
	tiers("PostgresConnectionsHigh", &d.ConnectionsUsage)
	tiers("PostgresSlowQueriesHigh", &d.SlowQueryRatio)
	tiers("PostgresLongRunningTransaction", &d.LongTransaction)
	tiers("PostgresIdleInTransaction", &d.IdleInTransaction)
	tiers("PostgresReplicationLagHigh", &d.ReplicationLag)
	tiers("PgBouncerClientsWaiting", &d.PgBouncerMaxWait)
	tiers("PostgresSequenceExhaustion", &d.SequenceUsed)
	one("PostgresCacheHitRatioLow", &d.CacheHitRatio)
	one("PostgresRollbackRatioHigh", &d.RollbackRatio)
	one("PostgresDeadTuplesHigh", &d.DeadTuples)
	one("PostgresAnalyzeOverdue", &d.ModsSinceAnalyze)
	one("PostgresTableBloatHigh", &d.BloatRatio)
	one("PostgresBlockingSessions", &d.BlockedSessions)
	one("PostgresRPOBreached", &d.RPO)
	one("PostgresConnectionCapacityForecast", &d.ConnectionsForecast)
	one("PostgresStorageCapacityForecast", &d.StorageForecast)
	one("PostgresThroughputCapacityForecast", &d.ThroughputForecast)
	one("PostgresLogicalSlotInactiveRetainingWal", &d.LogicalSlotRetainedWAL)
	return d
}

// WriteDashboards writes dir/dashboards/*.json.
func (c *Config) WriteDashboards(dir string) error {
	files, err := dashboards.Render(c.Dashboards())
	if err != nil {
		return err
	}
	out := filepath.Join(dir, "dashboards")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(out, n), files[n], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", n, err)
		}
	}
	return nil
}
