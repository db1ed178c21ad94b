package dashboards

// panelRef names a panel by its dashboard's UID and its title.
type panelRef struct{ UID, Title string }

// alertPanels maps every alert of the rule pack to the panel that shows the
// series it fires on with its threshold drawn. The tests check it against the
// alert names in rules/*.yml.
var alertPanels = map[string]panelRef{
	"PostgresDown":                       {"pg-fleet-overview", "Servers up"},
	"PostgresExporterDown":               {"pg-fleet-overview", "Servers up"},
	"PostgresRestarted":                  {"pg-fleet-overview", "Uptime"},
	"PostgresCollectorFailing":           {"pg-fleet-overview", "Failing collectors"},
	"PostgresAvailabilityBudgetBurn":     {"pg-fleet-overview", "Availability error budget burn rate"},
	"PostgresConnectionsHigh":            {"pg-fleet-overview", "Connections against max_connections"},
	"PostgresCacheHitRatioLow":           {"pg-fleet-overview", "Cache hit ratio"},
	"PostgresRollbackRatioHigh":          {"pg-fleet-overview", "Rollback ratio"},
	"PostgresLatencyP95High":             {"pg-fleet-overview", "Statement latency P95 and P99"},
	"PostgresLatencyP99High":             {"pg-fleet-overview", "Statement latency P95 and P99"},
	"PostgresLatencyP95BudgetBurn":       {"pg-fleet-overview", "Latency objectives burn rate"},
	"PostgresLatencyP99BudgetBurn":       {"pg-fleet-overview", "Latency objectives burn rate"},
	"PostgresConnectionCapacityForecast": {"pg-fleet-overview", "Connections forecast"},
	"PostgresStorageCapacityForecast":    {"pg-fleet-overview", "Storage forecast"},
	"PostgresThroughputCapacityForecast": {"pg-fleet-overview", "Throughput forecast"},
	"PostgresDiskSpaceLow":               {"pg-fleet-overview", "Free disk space"},
	"PostgresDiskFillingUp":              {"pg-fleet-overview", "Free disk space in a day"},
	"PostgresReplicationLagHigh":         {"pg-fleet-overview", "Replication lag"},
	"PostgresRPOBreached":                {"pg-fleet-overview", "Data at risk (RPO)"},

	"PostgresDeadlocksHigh":          {"pg-database-detail", "Deadlocks in the last 10 minutes"},
	"PostgresXidWraparound":          {"pg-database-detail", "Transaction ID age"},
	"PostgresMultixactWraparound":    {"pg-database-detail", "Transaction ID age"},
	"PostgresChecksumFailures":       {"pg-database-detail", "Checksum failures per second"},
	"PostgresSequenceExhaustion":     {"pg-database-detail", "Sequences used (top 10)"},
	"PostgresCheckpointsTooFrequent": {"pg-database-detail", "Requested checkpoints in the last hour"},

	"PostgresSlowQueriesHigh": {"pg-queries", "Slow-statement ratio"},

	"PostgresDeadTuplesHigh":       {"pg-tables-maintenance", "Dead tuples (top 10)"},
	"PostgresAnalyzeOverdue":       {"pg-tables-maintenance", "Rows changed since analyze (top 10)"},
	"PostgresTableBloatHigh":       {"pg-tables-maintenance", "Table bloat (top 10)"},
	"PostgresIndexBloatHigh":       {"pg-tables-maintenance", "Index bloat (top 10)"},
	"PostgresSeqScansOnLargeTable": {"pg-tables-maintenance", "Sequential scans per minute on large tables"},
	"PostgresInvalidIndexes":       {"pg-tables-maintenance", "Invalid indexes"},

	"PostgresPoolUtilizationHigh":        {"pg-sessions-locks-pools", "Pool utilization per service"},
	"PostgresPoolExhausted":              {"pg-sessions-locks-pools", "Pool utilization per service"},
	"PostgresConnectionsBypassPool":      {"pg-sessions-locks-pools", "Sessions outside every pool"},
	"PostgresLongRunningTransaction":     {"pg-sessions-locks-pools", "Longest open transaction"},
	"PostgresIdleInTransaction":          {"pg-sessions-locks-pools", "Longest idle in transaction"},
	"PostgresBlockingSessions":           {"pg-sessions-locks-pools", "Blocked sessions"},
	"PostgresLockWaitsHigh":              {"pg-sessions-locks-pools", "Lock waiters"},
	"PostgresExporterConfigReloadFailed": {"pg-sessions-locks-pools", "Exporter configuration loaded"},
	"PgBouncerDown":                      {"pg-sessions-locks-pools", "PgBouncer up"},
	"PgBouncerClientsWaiting":            {"pg-sessions-locks-pools", "PgBouncer longest client wait"},

	"PostgresFailover":                    {"pg-replication-backups", "Role changes in the last 10 minutes"},
	"PostgresSplitBrain":                  {"pg-replication-backups", "Primaries per cluster"},
	"PostgresNoPrimary":                   {"pg-replication-backups", "Primaries per cluster"},
	"PostgresWalReceiverDown":             {"pg-replication-backups", "WAL receiver streaming"},
	"PostgresReplicationSlotLost":         {"pg-replication-backups", "Replication slots that lost WAL"},
	"PostgresReplicationSlotInactive":     {"pg-replication-backups", "Replication slots in use"},
	"PostgresReplicationSlotWalRetained":  {"pg-replication-backups", "WAL retained by replication slots"},
	"PostgresWalArchivingFailing":         {"pg-replication-backups", "WAL archiver failing"},
	"PostgresBackupFailed":                {"pg-replication-backups", "Backup failure newer than last success"},
	"PostgresFullBackupTooOld":            {"pg-replication-backups", "Full backup age"},
	"PostgresIncrementalBackupTooOld":     {"pg-replication-backups", "Incremental backup age"},
	"PostgresBackupSizeAnomaly":           {"pg-replication-backups", "Backup size with anomaly band"},
	"PostgresBackupUnverified":            {"pg-replication-backups", "Time since last verification"},
	"PostgresRestoreTestOverdue":          {"pg-replication-backups", "Time since last restore test"},
	"PostgresBackupRepositoryUnencrypted": {"pg-replication-backups", "Backup repository health"},
	"PostgresBackupRetentionExceeded":     {"pg-replication-backups", "Backups past retention"},
	"PostgresBackupSourceDown":            {"pg-replication-backups", "Backup repository health"},
	"PostgresBackupMissing":               {"pg-replication-backups", "Backup repository health"},
	"PostgresBackupVerificationFailed":    {"pg-replication-backups", "Time since last verification"},
	"PostgresRestoreTestFailed":           {"pg-replication-backups", "Time since last restore test"},

	"PostgresSubscriptionWorkerDown":          {"pg-replication-backups", "Subscription apply workers"},
	"PostgresSubscriptionErrors":              {"pg-replication-backups", "Subscription errors in the last 10 minutes"},
	"PostgresLogicalSlotInactiveRetainingWal": {"pg-replication-backups", "WAL retained by unused logical slots"},
	"PostgresRestartPending":                  {"pg-database-detail", "Settings waiting for a restart"},
	"PostgresConfigFileErrors":                {"pg-database-detail", "Configuration file errors"},
	"PostgresSettingsDiffer":                  {"pg-database-detail", "Settings variants per cluster"},
}
