// Package names is the one catalogue of the metric and recording-rule names
// the rule pack (package mixin) and the dashboards (package
// mixin/dashboards) read. A rename in a collector is a one-line change here.
//
// It imports nothing of this module, so both generators and their tests can
// use it. Its tests check every name against the families the exporter
// declares and the recording rules the pack writes; the few names the
// exporter does not declare are listed there with where they come from.
package names

// Framework, exporter and Prometheus.
const (
	Up                = "pg_up"
	CollectorSuccess  = "pg_scrape_collector_success"
	ScrapeDuration    = "pg_scrape_duration_seconds"
	PostmasterStart   = "pg_postmaster_start_timestamp_seconds"
	ExporterPoolConn  = "pg_exporter_pool_connections"
	ExporterPoolMax   = "pg_exporter_pool_max_connections"
	ExporterBreaker   = "pg_exporter_circuit_breaker_state"
	ReloadSuccessful  = "pg_exporter_config_last_reload_successful"
	ExporterBuildInfo = "pg_exporter_build_info" // on every exporter's own /metrics
	PrometheusAlerts  = "ALERTS"                 // made by Prometheus for every alerting rule
	PrometheusUp      = "up"                     // made by Prometheus for every scrape
)

// Recording rules of the rule pack (rules/postgres-recording.yml). The rule
// generator records them under these names.
const (
	RecXactRate5m         = "instance:pg_xact:rate5m"
	RecRollbackRatio5m    = "instance:pg_rollback:ratio_rate5m"
	RecBlksAccessedRate5m = "instance:pg_blks_accessed:rate5m"
	RecCacheHitRatio5m    = "instance:pg_cache_hit:ratio_rate5m"
	RecConnectionsRatio   = "instance:pg_connections:ratio"
	RecPoolUtilization    = "instance_pool:pg_pool_utilization:ratio"
	RecDatabaseSize       = "instance:pg_database_size_bytes:sum"
	RecCallsRate5m        = "instance:pg_statement_calls:rate5m"
	RecP95Rate5m          = "instance:pg_statement_duration_seconds:p95_rate5m"
	RecP99Rate5m          = "instance:pg_statement_duration_seconds:p99_rate5m"
	RecSlowRatio5m        = "instance:pg_statement_slow:ratio_rate5m"
	// How long WAL has waited unarchived: the data a lost server takes with
	// it, against the RPO (the alert and the panels read the same rule).
	RecWALAtRisk = "instance:pg_wal_at_risk:age_seconds"

	// SLI families: one recording rule per SLO window (5m to 3d), named by
	// appending the window, so RecAvailability+"1h" is the availability
	// over the last hour.
	RecAvailability = "instance:pg_up:ratio_avg"
	RecWithin100ms  = "instance:pg_statement_within_100ms:ratio_rate"
	RecWithin500ms  = "instance:pg_statement_within_500ms:ratio_rate"

	// The windows the dashboards read.
	RecAvailability1h = RecAvailability + "1h"
	RecAvailability5m = RecAvailability + "5m"
	RecWithin100ms1h  = RecWithin100ms + "1h"
	RecWithin100ms5m  = RecWithin100ms + "5m"
	RecWithin500ms1h  = RecWithin500ms + "1h"
	RecWithin500ms5m  = RecWithin500ms + "5m"
)

// pg_stat_database and sizes.
const (
	NumBackends      = "pg_stat_database_numbackends"
	XactCommit       = "pg_stat_database_xact_commit_total"
	XactRollback     = "pg_stat_database_xact_rollback_total"
	BlksHit          = "pg_stat_database_blks_hit_total"
	BlksRead         = "pg_stat_database_blks_read_total"
	TupReturned      = "pg_stat_database_tup_returned_total"
	TupFetched       = "pg_stat_database_tup_fetched_total"
	TupInserted      = "pg_stat_database_tup_inserted_total"
	TupUpdated       = "pg_stat_database_tup_updated_total"
	TupDeleted       = "pg_stat_database_tup_deleted_total"
	Conflicts        = "pg_stat_database_conflicts_total"
	TempFiles        = "pg_stat_database_temp_files_total"
	TempBytes        = "pg_stat_database_temp_bytes_total"
	Deadlocks        = "pg_stat_database_deadlocks_total"
	ChecksumFailures = "pg_stat_database_checksum_failures_total"
	DatabaseSize     = "pg_database_size_bytes"
)

// Activity, pools, locks, wraparound, checkpoints, disk, WAL archiving.
const (
	ConnsInUse         = "pg_connections_in_use"
	ConnsMax           = "pg_connections_max"
	ConnsReserved      = "pg_connections_reserved"
	ActivityConns      = "pg_stat_activity_connections"
	MaxTxDuration      = "pg_stat_activity_max_tx_duration_seconds"
	IdleInTxSessions   = "pg_stat_activity_idle_in_transaction_sessions"
	IdleInTxDuration   = "pg_stat_activity_idle_in_transaction_max_duration_seconds"
	LongRunning        = "pg_long_running_transactions"
	PreparedXacts      = "pg_prepared_transactions"
	PreparedXactsAge   = "pg_prepared_transactions_max_age_seconds"
	PoolConnections    = "pg_pool_connections"
	PoolMax            = "pg_pool_max_connections"
	PoolUnmatched      = "pg_pool_unmatched_connections"
	Locks              = "pg_locks"
	LocksWaiting       = "pg_locks_waiting_sessions"
	LocksMaxWait       = "pg_locks_max_wait_duration_seconds"
	BlockedSessions    = "pg_locks_blocked_sessions"
	BlockingSessions   = "pg_locks_blocking_sessions"
	XidAge             = "pg_database_wraparound_age_datfrozenxid"
	MxidAge            = "pg_database_wraparound_age_datminmxid"
	FreezeMaxAge       = "pg_database_wraparound_freeze_max_age"
	XminHorizonAge     = "pg_xmin_horizon_age"
	CheckpointsReq     = "pg_stat_bgwriter_checkpoints_req_total"
	FSAvail            = "pg_filesystem_avail_bytes"
	FSSize             = "pg_filesystem_size_bytes"
	WALPosition        = "pg_wal_lsn_bytes_total"
	WALDirectoryBytes  = "pg_wal_directory_size_bytes"
	Archived           = "pg_stat_archiver_archived_total"
	ArchiveFailed      = "pg_stat_archiver_failed_total"
	ArchiveFailing     = "pg_stat_archiver_failing"
	LastArchived       = "pg_stat_archiver_last_archived_timestamp_seconds"
	ArchiveReady       = "pg_wal_archive_ready_files"
	ArchiveReadyOldest = "pg_wal_archive_ready_oldest_timestamp_seconds"
	WALUnarchived      = "pg_wal_unarchived_bytes"
)

// Replication.
const (
	IsReplica             = "pg_replication_is_replica"
	ReplayLag             = "pg_replication_replay_lag_seconds"
	StandbyReplayLag      = "pg_replication_standby_replay_lag_seconds"
	StandbyReplayLagBytes = "pg_replication_standby_replay_lag_bytes"
	Standbys              = "pg_replication_connected_standbys"
	SlotActive            = "pg_replication_slot_active"
	SlotRetainedWAL       = "pg_replication_slot_retained_wal_bytes"
	SlotWALStatus         = "pg_replication_slot_wal_status"
	WALReceiverConnected  = "pg_replication_wal_receiver_connected"
)

// Statements.
const (
	StmtDuration   = "pg_statement_duration_seconds" // histogram
	StmtBucket     = StmtDuration + "_bucket"
	StmtCount      = StmtDuration + "_count"
	StmtCalls      = "pg_stat_statements_calls_total"
	StmtExecTime   = "pg_stat_statements_exec_time_seconds_total"
	StmtSharedRead = "pg_stat_statements_shared_blks_read_total"
	StmtSharedHit  = "pg_stat_statements_shared_blks_hit_total"
	StmtTempWrite  = "pg_stat_statements_temp_blks_written_total"
	StmtDealloc    = "pg_stat_statements_dealloc_total"
	TopExecTime    = "pg_stat_statements_top_exec_time_seconds_total"
	TopCalls       = "pg_stat_statements_top_calls_total"
	TopRows        = "pg_stat_statements_top_rows_total"
	TopSharedRead  = "pg_stat_statements_top_shared_blks_read_total"
)

// Tables, indexes, bloat, schema, progress.
const (
	SeqScans         = "pg_stat_user_tables_seq_scan_total"
	LiveTuples       = "pg_stat_user_tables_n_live_tup"
	DeadTuples       = "pg_stat_user_tables_n_dead_tup"
	ModSinceAnalyze  = "pg_stat_user_tables_n_mod_since_analyze"
	LastVacuum       = "pg_stat_user_tables_last_vacuum_timestamp_seconds"
	LastAutovacuum   = "pg_stat_user_tables_last_autovacuum_timestamp_seconds"
	LastAnalyze      = "pg_stat_user_tables_last_analyze_timestamp_seconds"
	LastAutoanalyze  = "pg_stat_user_tables_last_autoanalyze_timestamp_seconds"
	TableBloatRatio  = "pg_table_bloat_ratio"
	TableBloatBytes  = "pg_table_bloat_bytes"
	IndexBloatRatio  = "pg_index_bloat_ratio"
	IndexBloatBytes  = "pg_index_bloat_bytes"
	IndexUnused      = "pg_index_unused"
	IndexSize        = "pg_index_size_bytes"
	IndexesInvalid   = "pg_indexes_invalid"
	IndexesUnused    = "pg_indexes_unused"
	SchemaIssues     = "pg_schema_issues"
	SequenceUsed     = "pg_sequence_used_ratio"
	ProgressOps      = "pg_progress_operations"
	ProgressBlocks   = "pg_progress_blocks"
	ProgressBlksDone = "pg_progress_blocks_done"
)

// Backups.
const (
	BackupSourceUp        = "pg_backup_source_up"
	BackupLastSuccess     = "pg_backup_last_success_timestamp_seconds"
	BackupLastFailure     = "pg_backup_last_failure_timestamp_seconds"
	BackupLastSize        = "pg_backup_last_size_bytes"
	BackupMeanSize        = "pg_backup_previous_mean_size_bytes"
	BackupVerified        = "pg_backup_last_successful_verification_timestamp_seconds"
	BackupVerifyOK        = "pg_backup_last_verification_success"
	RestoreTested         = "pg_backup_last_successful_restore_test_timestamp_seconds"
	RestoreTestOK         = "pg_backup_last_restore_test_success"
	BackupOldest          = "pg_backup_oldest_timestamp_seconds"
	BackupBeyondRetention = "pg_backup_beyond_retention_backups"
	BackupEncrypted       = "pg_backup_repository_encrypted"
)

// PgBouncer.
const (
	BouncerUp          = "pgbouncer_up"
	BouncerClActive    = "pgbouncer_pools_client_active_connections"
	BouncerClWaiting   = "pgbouncer_pools_client_waiting_connections"
	BouncerMaxWait     = "pgbouncer_pools_client_maxwait_seconds"
	BouncerSvActive    = "pgbouncer_pools_server_active_connections"
	BouncerSvIdle      = "pgbouncer_pools_server_idle_connections"
	BouncerDBPoolSize  = "pgbouncer_databases_pool_size"
	BouncerQueriesPool = "pgbouncer_stats_queries_pooled_total"
)

// Remediation receiver (on the receiver's own /metrics).
const (
	RemActions        = "pg_remediation_actions_total"
	RemDuration       = "pg_remediation_action_duration_seconds" // histogram
	RemDurationBucket = RemDuration + "_bucket"
	RemAlerts         = "pg_remediation_alerts_total"
	RemRequests       = "pg_remediation_webhook_requests_total"
	RemQueueLength    = "pg_remediation_queue_length"
	RemQueueCapacity  = "pg_remediation_queue_capacity"
	RemDeferred       = "pg_remediation_deferred_actions"
	RemCircuit        = "pg_remediation_circuit_state"
	RemReloadOK       = "pg_remediation_config_last_reload_successful"
)

// Logical replication, wait events, configuration drift.
const (
	SubEnabled         = "pg_subscription_enabled"
	SubWorkers         = "pg_subscription_workers"
	SubApplyErrors     = "pg_subscription_apply_errors_total"
	SubSyncErrors      = "pg_subscription_sync_errors_total"
	SubLastReceipt     = "pg_subscription_last_msg_receipt_timestamp_seconds"
	SubTables          = "pg_subscription_tables"
	SlotSpillBytes     = "pg_stat_replication_slots_spill_bytes_total"
	SlotDecodedBytes   = "pg_stat_replication_slots_decoded_bytes_total"
	WaitEventSessions  = "pg_stat_activity_wait_event_sessions"
	SettingsPending    = "pg_settings_pending_restarts"
	SettingsHash       = "pg_settings_hash"
	SettingsFileErrors = "pg_settings_file_errors"
	HbaFileErrors      = "pg_hba_file_rules_errors"
	ConflictsByReason  = "pg_stat_database_conflicts_by_reason_total"
)
