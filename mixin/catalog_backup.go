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
		Name: "PostgresWalArchivingFailing", For: "5m", Severity: "warning",
		Help:    "The archiver's last attempt failed (pg_stat_archiver_failing: the last failure is newer than the last success) for the whole duration; a failure the archiver recovered from does not alert.",
		Summary: "WAL archiving is failing.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) == 1", b.by(), b.pg(names.ArchiveFailing))
		},
		Desc: func(_ *builder, _ float64) string {
			return "The archiver of {{ $labels.instance }} keeps failing: its last attempt failed after its last success (failing {{ $value }}); WAL piles up in pg_wal and point-in-time recovery falls behind."
		},
	},
	{
		Name: "PostgresRPOBreached", For: "0s", Critical: f(900),
		Help:    "Seconds WAL may wait unarchived (15 minutes by default, the recovery point objective: losing the server now loses at least that much data). Measured as the age of the oldest completed WAL file waiting to be archived or, when none is complete, the time since the last file was archived while WAL was written after it (a quiet primary that fills no segment; set archive_timeout below the RPO).",
		Summary: "The recovery point objective is breached.",
		Expr: func(_ *builder, thr, _ float64) string {
			return fmt.Sprintf("%s >= %s", names.RecWALAtRisk, num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "WAL of {{ $labels.instance }} has waited {{ $value | humanizeDuration }} unarchived (RPO " + dur(thr) + "): the oldest WAL file waiting was completed that long ago or, with none complete, WAL was written after the last file archived that long ago; losing the server now loses that data."
		},
	},
}

var backupAlerts = []*alertSpec{
	{
		Name: "PostgresBackupSourceDown", For: "10m", Severity: "warning",
		Help:    "A backup source cannot be read (pg_backup_source_up is 0), or its series vanished within the last day while the exporter itself is scraped: with no data about a repository its backups are unknown, not fine. A source removed from the exporter's configuration on purpose alerts for up to a day; silence it.",
		Summary: "A backup source cannot be read.",
		Expr: func(b *builder, _, _ float64) string {
			obj := b.by("source")
			up := b.backup(names.BackupSourceUp)
			// A vanished source keeps its labels through max_over_time;
			// an exporter that is not scraped at all is PostgresExporterDown's.
			return fmt.Sprintf("(\n  max by (%s) (%s) == 0\n  or\n  max by (%s) (max_over_time(%s[1d])) * 0\n  unless on(%s)\n  max by (%s) (%s)\n)\nunless on(%s)\n%s == 0",
				obj, up, obj, up, obj, obj, up, b.by(), b.backup(names.PrometheusUp))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Backup source {{ $labels.source }} of the exporter at {{ $labels.instance }} (job {{ $labels.job }}) cannot be read or no longer reports (pg_backup_source_up {{ $value }}, 0 also when its series vanished); nothing is known about its backups, so every backup alert for it is blind."
		},
	},
	{
		Name: "PostgresBackupMissing", For: "30m", Severity: "warning",
		Help:    "A backup source is read fine but lists no successful backup of any type: the tool never succeeded, or the repository is empty.",
		Summary: "A backup source lists no successful backup.",
		Expr: func(b *builder, _, _ float64) string {
			obj := b.by("source")
			return fmt.Sprintf("max by (%s) (%s) == 1\nunless on(%s)\nmax by (%s) (%s)",
				obj, b.backup(names.BackupSourceUp), obj, obj, b.backup(names.BackupLastSuccess))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Backup source {{ $labels.source }} of the exporter at {{ $labels.instance }} is readable (up {{ $value }}) but lists no successful backup: none has ever succeeded, or the repository is empty."
		},
	},
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
		Name: "PostgresFullBackupTooOld", For: "0s", Warning: f(86400), Critical: f(172800),
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
		Name: "PostgresIncrementalBackupTooOld", For: "0s", Warning: f(21600),
		Help:    "Age in seconds of the newest successful backup a restore can build on, incremental, differential or the full one they count from (6 hours by default, the expected interval between incremental backups, which keeps the WAL a restore must replay short). The newest of the types counts, so a schedule without differentials (pgBackRest then reports the last full as the last differential) does not alert.",
		Summary: "The newest incremental backup is too old.",
		Expr: func(b *builder, thr, _ float64) string {
			// Per stanza, not per type: the tools count a full backup as
			// the latest of every type that builds on it, so a type the
			// schedule never runs shows the last full's age.
			return fmt.Sprintf("time() - max by (%s) (%s) >= %s", b.by("source", "stanza"), b.backup(names.BackupLastSuccess, incrementalType), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "The newest incremental, differential or full backup of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }} finished {{ $value | humanizeDuration }} ago (threshold " + dur(thr) + ")."
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
		Name: "PostgresBackupUnverified", For: "0s", Warning: f(86400),
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
		Name: "PostgresRestoreTestOverdue", For: "0s", Warning: f(2678400),
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
		Name: "PostgresBackupVerificationFailed", For: "0s", Severity: "warning",
		Help:    "The latest backup verification failed, or backups exist and no verification has ever passed.",
		Summary: "No passing backup verification stands.",
		Expr: func(b *builder, _, _ float64) string {
			return b.noPass(names.BackupVerifyOK, names.BackupVerified)
		},
		Desc: func(_ *builder, _ float64) string {
			return "No passing verification stands for the backups of {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }}: the latest verification failed, or none has passed since backups exist (last result {{ $value }}); a backup that was never verified may not restore."
		},
	},
	{
		Name: "PostgresRestoreTestFailed", For: "0s", Severity: "warning",
		Help:    "The latest restore test failed, or backups exist and no restore test has ever passed.",
		Summary: "No passing restore test stands.",
		Expr: func(b *builder, _, _ float64) string {
			return b.noPass(names.RestoreTestOK, names.RestoreTested)
		},
		Desc: func(_ *builder, _ float64) string {
			return "No passing restore test stands for {{ $labels.stanza }} ({{ $labels.source }}) for {{ $labels.instance }}: the latest restore test failed, or none has passed since backups exist (last result {{ $value }}); nothing proves the backups restore."
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

// noPass is the condition of a check that must pass for every stanza with
// backups (verification, restore test): its latest result is 0, or backups
// exist and it never passed. Both read 0.
func (b *builder) noPass(result, lastPassed string) string {
	obj := b.by("source", "stanza")
	return fmt.Sprintf("max by (%s) (%s) == 0\nor\n(\n  max by (%s) (%s) * 0\n  unless on(%s)\n  max by (%s) (%s)\n)",
		obj, b.backup(result), obj, b.backup(names.BackupLastSuccess), obj, obj, b.backup(lastPassed))
}
