package backup

import "github.com/pghardening/pg_hardening_exporter/internal/metric"

const (
	srcBackup = "backup_sources"
	allVers   = "all"
)

// Families of the backup sources, served on /metrics.
var (
	mUp = metric.Gauge("pg_backup_source_up",
		"1 if the source's last read worked: the tool ran, its output parsed and the repository was readable; 0 otherwise (the error is logged).",
		srcBackup, allVers, "source")
	mInfo = metric.Gauge("pg_backup_source_info",
		"Always 1; tool names the kind of source (pgbackrest, walg, barman, manifest).",
		srcBackup, allVers, "source", "tool")
	mDuration = metric.Gauge("pg_backup_source_duration_seconds",
		"How long the source's last read took.", srcBackup, allVers, "source")
	mCacheAge = metric.Gauge("pg_backup_source_cache_age_seconds",
		"Age of the result served; sources are read at most once per ttl.", srcBackup, allVers, "source")
	mSkipped = metric.Gauge("pg_backup_source_skipped_entries",
		"Entries (manifest files, listing items) that could not be parsed on the last read and were left out.",
		srcBackup, allVers, "source")
	mRetention = metric.Gauge("pg_backup_retention_seconds",
		"The retention configured for the source (0: not checked).", srcBackup, allVers, "source")

	mLastSuccess = metric.Gauge("pg_backup_last_success_timestamp_seconds",
		"When the latest successful backup of this type finished. A full backup also counts as the latest differential, incremental and delta backup, and a differential as the latest incremental.",
		srcBackup, allVers, "source", "stanza", "type")
	mLastFailure = metric.Gauge("pg_backup_last_failure_timestamp_seconds",
		"When the latest failed backup run of this type ended (manifest records, Barman's FAILED backups; pgBackRest and WAL-G list finished backups only, so wrap their runs with backup-record).",
		srcBackup, allVers, "source", "stanza", "type")
	mLastSize = metric.Gauge("pg_backup_last_size_bytes",
		"What the latest successful backup of this type stored in the repository (pgBackRest repository delta, WAL-G compressed size, Barman size, manifest size_bytes).",
		srcBackup, allVers, "source", "stanza", "type")
	mLastDBSize = metric.Gauge("pg_backup_last_database_size_bytes",
		"Size of the data the latest successful backup of this type covers, where the tool reports it.",
		srcBackup, allVers, "source", "stanza", "type")
	mMeanSize = metric.Gauge("pg_backup_previous_mean_size_bytes",
		"Mean stored size of the successful backups of this type before the latest one (at most size_window of them), for size-anomaly alerts.",
		srcBackup, allVers, "source", "stanza", "type")
	mLastDuration = metric.Gauge("pg_backup_last_duration_seconds",
		"How long the latest successful backup of this type took, where start and end are known.",
		srcBackup, allVers, "source", "stanza", "type")
	mLastErrors = metric.Gauge("pg_backup_last_has_errors",
		"1 if the latest successful backup of this type completed with errors (pgBackRest: page checksum errors), else 0.",
		srcBackup, allVers, "source", "stanza", "type")
	mCount = metric.Gauge("pg_backup_backups",
		"Successful backups of this type in the repository (or in the manifest directory).",
		srcBackup, allVers, "source", "stanza", "type")
	mFailedRuns = metric.Gauge("pg_backup_failed_runs",
		"Failed backup runs of this type the source still lists.",
		srcBackup, allVers, "source", "stanza", "type")

	mOldest = metric.Gauge("pg_backup_oldest_timestamp_seconds",
		"When the oldest successful backup still present finished.", srcBackup, allVers, "source", "stanza")
	mBeyondRetention = metric.Gauge("pg_backup_beyond_retention_backups",
		"Successful backups older than the source's retention: above 0 means expiry is not running.",
		srcBackup, allVers, "source", "stanza")
	mRepoSize = metric.Gauge("pg_backup_repository_size_bytes",
		"Bytes the backups take in the repository (sum over the backups listed; manifest: the latest record's repository_size_bytes).",
		srcBackup, allVers, "source", "stanza")
	mEncrypted = metric.Gauge("pg_backup_repository_encrypted",
		"1 if the repository encrypts backups (pgBackRest cipher other than none; manifest encrypted field), 0 if not; absent when the source does not say.",
		srcBackup, allVers, "source", "stanza", "repo")
	mVerifyAt = metric.Gauge("pg_backup_last_verification_timestamp_seconds",
		"When the latest backup verification (manifest kind verify) ended.", srcBackup, allVers, "source", "stanza")
	mVerifyOK = metric.Gauge("pg_backup_last_verification_success",
		"1 if the latest backup verification passed, 0 if it failed.", srcBackup, allVers, "source", "stanza")
	mVerifyGood = metric.Gauge("pg_backup_last_successful_verification_timestamp_seconds",
		"When the latest passing backup verification ended.", srcBackup, allVers, "source", "stanza")
	mRestoreAt = metric.Gauge("pg_backup_last_restore_test_timestamp_seconds",
		"When the latest restore test (manifest kind restore_test) ended.", srcBackup, allVers, "source", "stanza")
	mRestoreOK = metric.Gauge("pg_backup_last_restore_test_success",
		"1 if the latest restore test passed, 0 if it failed.", srcBackup, allVers, "source", "stanza")
	mRestoreGood = metric.Gauge("pg_backup_last_successful_restore_test_timestamp_seconds",
		"When the latest passing restore test ended.", srcBackup, allVers, "source", "stanza")

	mStanzaStatus = metric.Gauge("pg_backup_stanza_status_code",
		"pgBackRest stanza status code: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 4 different across repos, 5 database mismatch across repos, 6 requested backup not found, 99 other (e.g. repository unreadable).",
		srcBackup, allVers, "source", "stanza")
	mRepoStatus = metric.Gauge("pg_backup_repository_status_code",
		"pgBackRest repository status code per stanza and repo (codes as for pg_backup_stanza_status_code).",
		srcBackup, allVers, "source", "stanza", "repo")
	mLockHeld = metric.Gauge("pg_backup_lock_held",
		"1 if pgBackRest reports the stanza's backup lock held (a backup is running now), else 0.",
		srcBackup, allVers, "source", "stanza")
)

// Metrics are the backup sources' families, for docs/metrics.md.
func Metrics() []*metric.Metric {
	return []*metric.Metric{mUp, mInfo, mDuration, mCacheAge, mSkipped, mRetention,
		mLastSuccess, mLastFailure, mLastSize, mLastDBSize, mMeanSize, mLastDuration, mLastErrors, mCount, mFailedRuns,
		mOldest, mBeyondRetention, mRepoSize, mEncrypted, mVerifyAt, mVerifyOK, mVerifyGood, mRestoreAt, mRestoreOK, mRestoreGood,
		mStanzaStatus, mRepoStatus, mLockHeld}
}
