package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

// boundLegend starts the legend of a series that draws a limit computed per
// series (a band) rather than a fixed threshold line.
const boundLegend = "bound: "

// IncrementalBackupTypes matches the type label of every backup that builds
// on an earlier one: pgBackRest's diff and incr, WAL-G's delta, and
// "incremental" as a manifest may spell it. The backup panels and the rule
// pack's alert on incremental backup age both use it.
const IncrementalBackupTypes = "incr|diff|incremental|delta"

func replicationBoard(cfg Config) board {
	bk := "{{instance}} {{source}} {{stanza}}"
	age := func(metric string, extra ...string) string { return "time() - " + m(metric, extra...) }
	// The band is the alert's: the mean size of the earlier backups of the
	// type (none before the second backup, none while that mean is 0).
	prevMean := "(" + m(names.BackupMeanSize) + " > 0)"
	return board{
		File: "replication-backups.json", UID: "pg-replication-backups", Title: "PostgreSQL / Replication and backups", Tag: "pg-replication",
		Description: "Standby lag, replication slots and the WAL they keep, logical replication subscriptions and slots, WAL archiving against the RPO, backup age per type against its objective, backup sizes with their anomaly band, verification and restore tests.",
		Rows: []row{
			{Title: "Replication", Panels: []panel{
				ts("Replay lag per standby", "s", "How far behind is each standby, seen from the primary?",
					q(replicationLag(), "{{instance}} {{application_name}}")).overBoth(cfg.ReplicationLag),
				ts("Replay lag per standby in bytes", "bytes", "How much WAL has each standby still to replay?",
					q(m(names.StandbyReplayLagBytes), "{{instance}} {{application_name}}")),
				ts("Standby's own replay lag", "s", "On a standby: how old is the last transaction it replayed?",
					q(m(names.ReplayLag), "{{instance}}")).overBoth(cfg.ReplicationLag),
				ts("Roles and standbys", "short", "Which servers are standbys, and how many standbys does each primary feed?",
					q(m(names.IsReplica), "{{instance}} is replica"),
					q(m(names.Standbys), "{{instance}} standbys")),
				ts("Role changes in the last 10 minutes", "short", "Was a standby promoted (failover), or a primary turned into a standby?",
					q("changes("+m(names.IsReplica)+"[10m])", "{{instance}}")).over(1),
				ts("Primaries per cluster", "short", "Does every cluster have exactly one primary? None: no writes are taken; more than one: split brain. Needs a cluster label on the targets.",
					q("count by (cluster) ("+m(names.IsReplica, `cluster!=""`)+" == 0) or count by (cluster) ("+m(names.IsReplica, `cluster!=""`)+") * 0", "{{cluster}}")).over(1).under(1),
				ts("WAL receiver streaming", "short", "Does each standby receive WAL from its upstream? 0: the receiver is stopped or disconnected, and the standby's replay lag reads 0 although it falls behind.",
					q(m(names.WALReceiverConnected)+" and on ("+serverBy+") "+m(names.IsReplica)+" == 1", "{{instance}}")).under(1).ratio(),
				ts("WAL retained by replication slots", "bytes", "Does a replication slot keep WAL that fills the disk?",
					q(m(names.SlotRetainedWAL), "{{instance}} {{slot_name}}")).overBoth(cfg.SlotRetainedWAL),
				ts("Replication slots that lost WAL", "short", "Has a slot lost WAL its consumer still needs (wal_status lost)? Its standby or subscriber must be rebuilt.",
					q(m(names.SlotWALStatus, `wal_status="lost"`), "{{instance}} {{slot_name}}")).over(1),
				ts("Replication slots in use", "short", "Is every replication slot in use? An inactive slot keeps WAL and the xmin horizon forever.",
					q(m(names.SlotActive), "{{instance}} {{slot_name}}")).under(1).ratio(),
			}},
			logicalReplicationRow(cfg),
			{Title: "WAL archiving", Panels: []panel{
				ts("Data at risk (RPO)", "s", "How much committed work is not yet archived? Time since a WAL file was last archived, and age of the oldest one waiting, against the 15 minute RPO.",
					q(walAtRisk(), "{{instance}} data at risk")).over(cfg.RPO),
				ts("WAL archived and failed per second", "short", "Does archive_command keep up?",
					q(rate(m(names.Archived)), "{{instance}} archived"),
					q(rate(m(names.ArchiveFailed)), "{{instance}} failed")),
				ts("WAL archiver failing", "short", "Does the archiver keep failing (1: its last attempt failed after its last success), and how often did archive_command fail in the last 10 minutes?",
					q(m(names.ArchiveFailing), "{{instance}} failing"),
					q("sum by ("+serverBy+") (increase("+m(names.ArchiveFailed)+"[10m]))", "{{instance}} failures in 10m")).over(1),
				ts("WAL files waiting to be archived", "short", "Is the archiver falling behind?",
					q(m(names.ArchiveReady), "{{instance}}")),
				ts("WAL generated", "Bps", "How fast does the server write WAL, and how big is the WAL directory?",
					q(rate(m(names.WALPosition)), "{{instance}} written per second")),
				ts("WAL directory size", "bytes", "How much disk does pg_wal take?",
					q(m(names.WALDirectoryBytes), "{{instance}}")),
			}},
			{Title: "Backups", Panels: []panel{
				ts("Full backup age", "s", "When did the last full backup succeed? The objective is one a day.",
					q(age(names.BackupLastSuccess, `type="full"`), bk)).overBoth(cfg.FullBackupMaxAge),
				ts("Incremental backup age", "s", "When did the newest backup a restore builds on (incremental, differential, or the full they count from) succeed? The objective is one every 6 hours. A type the schedule never runs reports the last full, so the newest type counts.",
					q("time() - max by ("+serverBy+", source, stanza) ("+m(names.BackupLastSuccess, `type=~"`+IncrementalBackupTypes+`"`)+")", bk)).over(cfg.IncrementalBackupAge),
				ts("Backup failure newer than last success", "s", "Did the latest backup run of a type fail? Positive: the last failure came this long after the last success.",
					q(failedAfter(), bk+" {{type}}")).over(0),
				ts("Backup size with anomaly band", "bytes", "Is the latest backup of each type far smaller or larger than the ones before it?",
					q(m(names.BackupLastSize), bk+" {{type}}"),
					q(prevMean+" * "+num(cfg.BackupSizeFactor), boundLegend+bk+" {{type}} upper"),
					q(prevMean+" / "+num(cfg.BackupSizeFactor), boundLegend+bk+" {{type}} lower")),
				ts("Time since last verification", "s", "Were the backups verified recently, and did the last verification pass?",
					q(age(names.BackupVerified), bk+" passed"),
					q(m(names.BackupVerifyOK), bk+" last result")).over(cfg.VerificationMaxAge),
				ts("Time since last restore test", "s", "Has a restore from backup been tested recently, and did it pass?",
					q(age(names.RestoreTested), bk+" passed"),
					q(m(names.RestoreTestOK), bk+" last result")).over(cfg.RestoreTestMaxAge),
				ts("Backups past retention", "short", "Does expiry run? Backups older than the retention should be gone.",
					q(m(names.BackupBeyondRetention), bk)).over(1),
				ts("Oldest backup age", "s", "How old is the oldest backup still kept? Past the retention, expiry is not running.",
					q(age(names.BackupOldest), bk)),
				ts("Backup repository health", "short", "Can the exporter read each backup source, and does the repository encrypt?",
					q(m(names.BackupSourceUp), "{{instance}} {{source}} readable"),
					q(m(names.BackupEncrypted), bk+" {{repo}} encrypted")).under(1).ratio(),
			}},
		},
	}
}

// failedAfter is how much later than the last success of its type the last
// failed backup run ended; absent while the last run succeeded.
func failedAfter() string {
	on := "on (" + serverBy + ", source, stanza, type)"
	return "(" + m(names.BackupLastFailure) + " - " + on + " " + m(names.BackupLastSuccess) + ") > 0"
}
