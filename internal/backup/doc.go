// Package backup reports the state of backup repositories (pgBackRest, WAL-G,
// Barman, and a directory of manifest files that any backup script can write)
// as pg_backup_* metrics, and records backup runs into such a directory
// (the backup-record command), so that failed runs are visible: the tools'
// own listings show finished backups only.
package backup
