package dashboards

import (
	"fmt"
	"strings"
)

// Config holds what the dashboards draw: the selectors that find the
// exporter's and the remediation receiver's jobs, and every threshold line.
// Times are in seconds, sizes in bytes, ratios between 0 and 1.
type Config struct {
	// Selector holds extra label matchers (without braces, e.g.
	// `job=~"postgres.*"`) that the job variable's query starts from; empty
	// offers every job that exports pg_up or pg_exporter_build_info. Beside
	// /probe, let it match the exporter's own job too, or the PgBouncer,
	// backup and exporter panels cannot be shown.
	Selector string
	// RemediationSelector does the same for the remediation receiver's jobs.
	RemediationSelector string
	// Refresh is the dashboards' auto-refresh interval.
	Refresh string

	// Thresholds. Where the rule pack warns and pages at two levels, both are
	// drawn. Times are in seconds, sizes in bytes, ratios between 0 and 1.
	LatencyP95             float64    // statement latency objective at the 95th percentile
	LatencyP99             float64    // statement latency objective at the 99th percentile
	SlowQuery              float64    // a statement slower than this is slow; a bucket bound of the histogram
	SlowQueryRatio         [2]float64 // share of slow statement calls
	SLOAvailability        float64    // availability objective
	SLOLatencyP95          float64    // share of calls that must be faster than LatencyP95
	SLOLatencyP99          float64    // share of calls that must be faster than LatencyP99
	BurnRate               [2]float64 // error-budget burn rates of the short (page) and long (ticket) windows
	PoolUtilization        [2]float64 // a service pool's connections over its max_connections
	ConnectionsUsage       [2]float64 // client backends over the usable max_connections
	ConnectionsForecast    float64    // share of the usable max_connections the week's forecast may reach
	ThroughputForecast     float64    // factor over the busiest 5 minutes of 28 days the week's forecast may reach
	StorageForecast        float64    // share of the data filesystem the week's forecast of database size may reach
	RecentRestart          float64    // uptime below which a server counts as just restarted
	CacheHitRatio          float64    // shared buffer hit ratio below which reads go to disk too often
	RollbackRatio          float64    // share of transactions rolled back
	Deadlocks10m           float64    // deadlocks in ten minutes
	WraparoundRatio        [2]float64 // transaction ID age over the 2^31 wraparound limit
	SequenceUsed           [2]float64 // share of a sequence's range used
	CheckpointsRequested1h float64    // requested (not timed) checkpoints in an hour
	DiskFreeRatio          [2]float64 // free share of a filesystem
	ReplicationLag         [2]float64 // a standby's replay lag
	SlotRetainedWAL        [2]float64 // WAL a replication slot keeps
	RPO                    float64    // recovery point objective: time since WAL was last archived
	FullBackupMaxAge       [2]float64 // age of the last full backup
	IncrementalBackupAge   float64    // age of the last incremental or differential backup
	BackupSizeFactor       float64    // a backup more than this times the mean size of the earlier backups of its type, or less than its inverse, is an anomaly
	VerificationMaxAge     float64    // backups must be verified this often
	RestoreTestMaxAge      float64    // restore tests must pass this often
	DeadTuples             float64    // dead tuples of a table that make a VACUUM due
	ModsSinceAnalyze       float64    // rows changed since the last ANALYZE that make it due
	BloatRatio             float64    // estimated bloat that makes a REINDEX or repack due
	LargeTableRows         float64    // a table with more live rows than this is large
	SeqScansPerMinute      float64    // sequential scans of a large table per minute
	LongTransaction        [2]float64 // age of the oldest open transaction
	IdleInTransaction      [2]float64 // time a session sits idle inside a transaction
	BlockedSessions        float64    // sessions blocked by others' locks
	LockWaiters            float64    // sessions waiting for a lock
	PgBouncerMaxWait       [2]float64 // how long a PgBouncer client waited for a server connection
	LogicalSlotRetainedWAL float64    // WAL a logical replication slot without a consumer keeps
}

// Defaults returns the default thresholds, the same the rule pack ships with.
func Defaults() Config {
	return Config{
		Refresh:                "1m",
		LatencyP95:             0.1,
		LatencyP99:             0.5,
		SlowQuery:              0.5,
		SlowQueryRatio:         [2]float64{0.05, 0.2},
		SLOAvailability:        0.999,
		SLOLatencyP95:          0.95,
		SLOLatencyP99:          0.99,
		BurnRate:               [2]float64{14.4, 6},
		PoolUtilization:        [2]float64{0.7, 1},
		ConnectionsUsage:       [2]float64{0.8, 0.95},
		ConnectionsForecast:    0.9,
		ThroughputForecast:     1.5,
		StorageForecast:        0.8,
		RecentRestart:          600,
		CacheHitRatio:          0.8,
		RollbackRatio:          0.05,
		Deadlocks10m:           5,
		WraparoundRatio:        [2]float64{0.5, 0.75},
		SequenceUsed:           [2]float64{0.75, 0.9},
		CheckpointsRequested1h: 4,
		DiskFreeRatio:          [2]float64{0.2, 0.1},
		ReplicationLag:         [2]float64{30, 300},
		SlotRetainedWAL:        [2]float64{1 << 30, 10 << 30},
		RPO:                    15 * 60,
		FullBackupMaxAge:       [2]float64{24 * 3600, 48 * 3600},
		IncrementalBackupAge:   6 * 3600,
		BackupSizeFactor:       2,
		VerificationMaxAge:     24 * 3600,
		RestoreTestMaxAge:      31 * 24 * 3600,
		DeadTuples:             10_000,
		ModsSinceAnalyze:       5_000,
		BloatRatio:             0.5,
		LargeTableRows:         100_000,
		SeqScansPerMinute:      1,
		LongTransaction:        [2]float64{30, 300},
		IdleInTransaction:      [2]float64{60, 300},
		BlockedSessions:        1,
		LockWaiters:            10,
		PgBouncerMaxWait:       [2]float64{1, 10},
		LogicalSlotRetainedWAL: 256 << 20,
	}
}

// Validate reports the first setting that cannot be drawn.
func (c Config) Validate() error {
	for _, s := range []string{c.Selector, c.RemediationSelector} {
		if strings.ContainsAny(s, "{}") {
			return fmt.Errorf("selector %q: give label matchers without braces, e.g. job=~\"postgres.*\"", s)
		}
	}
	if c.Refresh == "" {
		return fmt.Errorf("refresh is empty; set an interval such as 1m")
	}
	if c.LatencyP95 <= 0 || c.LatencyP99 <= 0 || c.SlowQuery <= 0 {
		return fmt.Errorf("latency thresholds must be above 0 seconds (latency_p95 %g, latency_p99 %g, slow_query %g)", c.LatencyP95, c.LatencyP99, c.SlowQuery)
	}
	for name, v := range map[string]float64{
		"slo_availability": c.SLOAvailability, "slo_latency_p95": c.SLOLatencyP95, "slo_latency_p99": c.SLOLatencyP99,
		"cache_hit_ratio": c.CacheHitRatio, "rollback_ratio": c.RollbackRatio,
	} {
		if v <= 0 || v >= 1 {
			return fmt.Errorf("%s is %g; it is a ratio, give it between 0 and 1 (exclusive)", name, v)
		}
	}
	if c.BackupSizeFactor <= 1 {
		return fmt.Errorf("backup_size_factor is %g; it must be above 1 (2 flags a backup twice or half the usual size)", c.BackupSizeFactor)
	}
	return nil
}
