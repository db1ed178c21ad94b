package mixin

import (
	"fmt"

	"github.com/pghardening/pg_hardening_exporter/mixin/dashboards"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// Backup types as the backup collectors label them: full, and the types that
// build on an earlier backup, the same set the dashboards draw.
const (
	fullType        = `type="full"`
	incrementalType = `type=~"` + dashboards.IncrementalBackupTypes + `"`
)

var archivingAlerts = []*alertSpec{
	{
		Name: "PostgresWalArchivingFailing", For: "5m", Warning: f(1),
		Help:    "Failed archive_command runs within 10 minutes.",
		Summary: "WAL archiving is failing.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (increase(%s[10m])) >= %s", b.by(), b.pg(names.ArchiveFailed), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "archive_command failed {{ $value | humanize }} times on {{ $labels.instance }} in the last 10 minutes (threshold " + num(thr) + "); WAL piles up in pg_wal and point-in-time recovery falls behind."
		},
	},
	{
		Name: "PostgresRPOBreached", For: "1m", Critical: f(900),
		Help:    "Age in seconds of the oldest completed WAL file still waiting to be archived (15 minutes by default, the recovery point objective: losing the server now loses at least that much data).",
		Summary: "The recovery point objective is breached.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("time() - min by (%s) (%s) >= %s", b.by(), b.pg(names.ArchiveReadyOldest), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The oldest WAL file of {{ $labels.instance }} still waiting to be archived was completed {{ $value | humanizeDuration }} ago (RPO " + dur(thr) + "); losing the server now loses at least that much data."
		},
	},
}

var backupAlerts = []*alertSpec{
	{
		Name: "PostgresBackupFailed", For: "0s", Severity: "warning",
		Help:    "The last run of a backup type failed after its last success (or it never succeeded).",
		Summary: "A backup failed.",
		Expr: func(b *builder, _, _ float64) string {
			obj := b.by("source", "stanza", "type")
			fail := fmt.Sprintf("max by (%s) (%s)", obj, b.backup(names.BackupLastFailure))
			ok := fmt.Sprintf("max by (%s) (%s)", obj, b.backup(names.BackupLastSuccess))
			return fmt.Sprintf("%s > on(%s) %s\nor\n%s unless on(%s) %s", fail, obj, ok, fail, obj, ok)
		},
		Desc: func(_ *builder, _ float64) string {
			return "The {{ $labels.type }} backup of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} failed at {{ $value | humanizeTimestamp }} and has not succeeded since."
		},
	},
	{
		Name: "PostgresFullBackupTooOld", For: "1h", Warning: f(86400), Critical: f(172800),
		Help:    "Age in seconds of the newest successful full backup (a day by default, warning, and two days, critical: full backups are expected daily, so one has been missed).",
		Summary: "The newest full backup is too old.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("time() - max by (%s) (%s) >= %s", b.by("source", "stanza", "type"), b.backup(names.BackupLastSuccess, fullType), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The newest full backup of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} finished {{ $value | humanizeDuration }} ago (threshold " + dur(thr) + ")."
		},
	},
	{
		Name: "PostgresIncrementalBackupTooOld", For: "30m", Warning: f(21600),
		Help:    "Age in seconds of the newest successful incremental or differential backup (6 hours by default, the expected interval between them, which keeps the WAL a restore must replay short).",
		Summary: "The newest incremental backup is too old.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("time() - max by (%s) (%s) >= %s", b.by("source", "stanza", "type"), b.backup(names.BackupLastSuccess, incrementalType), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The newest {{ $labels.type }} backup of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} finished {{ $value | humanizeDuration }} ago (threshold " + dur(thr) + ")."
		},
	},
	{
		Name: "PostgresBackupSizeAnomaly", For: "5m", Warning: f(2),
		Help:    "Factor by which the newest backup of a type may differ, up or down, from the mean size of the backups of that type before it (pg_backup_previous_mean_size_bytes, over the source's size_window); silent before the second backup of a type and while that mean is 0.",
		Summary: "A backup's size differs sharply from recent backups.",
		Expr: func(b *builder, thr, _ float64) string {
			obj := b.by("source", "stanza", "type")
			ratio := fmt.Sprintf("max by (%s) (%s)\n  /\nmax by (%s) (%s > 0)", obj, b.backup(names.BackupLastSize), obj, b.backup(names.BackupMeanSize))
			return fmt.Sprintf("(\n%s\n) >= %s\nor\n(\n%s\n) <= %s", ratio, num(thr), ratio, num(1/thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The newest {{ $labels.type }} backup of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} is {{ printf \"%.2f\" $value }} times the mean size of the {{ $labels.type }} backups before it (alerting beyond a factor of " + num(thr) + "); data may be missing from it or growing unexpectedly."
		},
	},
	{
		Name: "PostgresBackupUnverified", For: "1h", Warning: f(86400),
		Help:    "Seconds since the last successful verification while a newer backup exists (a day by default: every backup should be verified, and one that is not may not restore).",
		Summary: "Recent backups have not been verified.",
		Expr: func(b *builder, thr, _ float64) string {
			obj := b.by("source", "stanza")
			ver := fmt.Sprintf("max by (%s) (%s)", obj, b.backup(names.BackupVerified))
			return fmt.Sprintf("time() - %s >= %s\nand on(%s)\nmax by (%s) (%s) > on(%s) %s",
				ver, num(thr), obj, obj, b.backup(names.BackupLastSuccess), obj, ver)
		},
		Desc: func(_ *builder, thr float64) string {
			return "Backups of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} were last verified {{ $value | humanizeDuration }} ago and newer backups exist (threshold " + dur(thr) + ")."
		},
	},
	{
		Name: "PostgresRestoreTestOverdue", For: "1h", Warning: f(2678400),
		Help:    "Seconds since the last successful restore test (31 days by default: a monthly restore test is what proves the backups restore at all, and how long it takes).",
		Summary: "No restore test has succeeded recently.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("time() - max by (%s) (%s) >= %s", b.by("source", "stanza"), b.backup(names.RestoreTested), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The last successful restore test of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} was {{ $value | humanizeDuration }} ago (threshold " + dur(thr) + ")."
		},
	},
	{
		Name: "PostgresBackupRepositoryUnencrypted", For: "5m", Severity: "warning",
		Help:    "A backup repository stores backups without encryption.",
		Summary: "A backup repository is not encrypted.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) == 0", b.by("source", "stanza", "repo"), b.backup(names.BackupEncrypted))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Repository {{ $labels.repo }} of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} is not encrypted (encrypted {{ $value }}); anyone who reads it reads the database."
		},
	},
	{
		Name: "PostgresBackupRetentionExceeded", For: "1h", Warning: f(1),
		Help:    "Successful backups kept although they are older than the source's own retention setting (expiry is not running).",
		Summary: "Backups are kept past their retention.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("source", "stanza"), b.backup(names.BackupBeyondRetention), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value }} backups of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} are older than the repository's retention (threshold " + num(thr) + "); expiry is not removing them."
		},
	},
}

var pgbouncerAlerts = []*alertSpec{
	{
		Name: "PgBouncerDown", For: "1m", Severity: "critical",
		Help:    "The exporter cannot reach PgBouncer's admin console (pgbouncer_up is 0).",
		Summary: "PgBouncer does not answer.",
		Expr:    func(b *builder, _, _ float64) string { return b.bouncer(names.BouncerUp) + " == 0" },
		Desc: func(_ *builder, _ float64) string {
			// The exporter names each PgBouncer it watches in the pgbouncer
			// label, and its own address is the instance; pgbouncer_exporter
			// has no such label and PgBouncer's address is the instance.
			return "PgBouncer {{ with $labels.pgbouncer }}{{ . }} (configured in the exporter at {{ $labels.instance }}, job {{ $labels.job }}){{ else }}at {{ $labels.instance }} (job {{ $labels.job }}){{ end }} did not answer the exporter (pgbouncer_up is {{ $value }}); clients that connect through it cannot reach the database."
		},
	},
	{
		Name: "PgBouncerClientsWaiting", For: "2m", Warning: f(1), Critical: f(10),
		Help:    "Seconds the longest-waiting client of a PgBouncer pool has waited for a server connection.",
		Summary: "PgBouncer clients are waiting for a server connection.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("pgbouncer", "database", "user"), b.bouncer(names.BouncerMaxWait), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "A client of {{ with $labels.pgbouncer }}pool {{ $labels.database }}/{{ $labels.user }} of PgBouncer {{ . }}{{ else }}PgBouncer pool {{ $labels.database }}/{{ $labels.user }}{{ end }} on {{ $labels.instance }} has waited {{ $value | humanizeDuration }} for a server connection (threshold " + dur(thr) + ")."
		},
	},
}

var alertGroups = []alertGroup{
	{alertsFile, "postgres.availability", availabilityAlerts},
	{alertsFile, "postgres.connections", connectionAlerts},
	{alertsFile, "postgres.transactions", transactionAlerts},
	{alertsFile, "postgres.performance", performanceAlerts},
	{alertsFile, "postgres.maintenance", maintenanceAlerts},
	{alertsFile, "postgres.replication", replicationAlerts},
	{alertsFile, "postgres.storage", storageAlerts},
	{"postgres-backup.yml", "postgres.archiving", archivingAlerts},
	{"postgres-backup.yml", "postgres.backup", backupAlerts},
	{"pgbouncer-alerts.yml", "pgbouncer", pgbouncerAlerts},
	{logicalFile, "postgres.logical_replication", logicalReplicationAlerts},
	{logicalFile, "postgres.configuration", configurationAlerts},
}
