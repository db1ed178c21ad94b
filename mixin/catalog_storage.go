package mixin

import (
	"fmt"

	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

var performanceAlerts = []*alertSpec{
	{
		Name: "PostgresCacheHitRatioLow", For: "15m", Warning: f(0.8), Min: f(100),
		Help:    "Share (0-1) of block reads served from shared buffers over 5 minutes (80 % by default: below it reads go to disk often enough to slow queries); alerts below it. min: blocks per second below which the ratio is ignored.",
		Summary: "PostgreSQL reads too many blocks from disk.",
		Expr: func(b *builder, thr, min float64) string {
			return b.busy(names.RecCacheHitRatio5m+" < "+num(thr), names.RecBlksAccessedRate5m, min)
		},
		Desc: func(_ *builder, thr float64) string {
			return "Only {{ $value | humanizePercentage }} of the blocks {{ $labels.instance }} read over the last 5 minutes came from shared buffers (threshold " + pct(thr) + ")."
		},
	},
	{
		Name: "PostgresLatencyP95High", For: "10m", Warning: f(0.1), Min: f(1),
		Help:    "95th percentile statement latency in seconds (100 ms by default: most statements of an interactive application should finish within it); alerts above it. min: statements per second below which it is ignored.",
		Summary: "PostgreSQL P95 statement latency is above target.",
		Expr: func(b *builder, thr, min float64) string {
			return b.busy(names.RecP95Rate5m+" > "+num(thr), names.RecCallsRate5m, min)
		},
		Desc: func(_ *builder, thr float64) string {
			return "95 % of statements on {{ $labels.instance }} finished within {{ $value | humanizeDuration }} over the last 5 minutes, slower than the " + dur(thr) + " target."
		},
	},
	{
		Name: "PostgresLatencyP99High", For: "10m", Warning: f(0.5), Min: f(1),
		Help:    "99th percentile statement latency in seconds (500 ms by default, also the slow-query threshold: even the slowest 1 % should finish within it); alerts above it. min: statements per second below which it is ignored.",
		Summary: "PostgreSQL P99 statement latency is above target.",
		Expr: func(b *builder, thr, min float64) string {
			return b.busy(names.RecP99Rate5m+" > "+num(thr), names.RecCallsRate5m, min)
		},
		Desc: func(_ *builder, thr float64) string {
			return "99 % of statements on {{ $labels.instance }} finished within {{ $value | humanizeDuration }} over the last 5 minutes, slower than the " + dur(thr) + " target."
		},
	},
	{
		Name: "PostgresSlowQueriesHigh", For: "10m", Warning: f(0.05), Critical: f(0.2), Min: f(1),
		Help:    "Share (0-1) of statement calls slower than 500 ms over 5 minutes. min: statements per second below which it is ignored.",
		Summary: "Many PostgreSQL statements take longer than 500 ms.",
		Expr: func(b *builder, thr, min float64) string {
			return b.busy(names.RecSlowRatio5m+" >= "+num(thr), names.RecCallsRate5m, min)
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $value | humanizePercentage }} of the statement calls on {{ $labels.instance }} took longer than 500ms over the last 5 minutes (threshold " + pct(thr) + ")."
		},
	},
	{
		Name: "PostgresSeqScansOnLargeTable", For: "30m", Warning: f(1), Min: f(100000),
		Help:    "Sequential scans per minute of one table; min: live rows from which a table counts as large.",
		Summary: "A large table is read by sequential scans.",
		Expr: func(b *builder, thr, min float64) string {
			obj := b.by("datname", "schemaname", "relname")
			return fmt.Sprintf("sum by (%s) (rate(%s[15m])) * 60 >= %s\nand on(%s)\nmax by (%s) (%s) >= %s",
				obj, b.pg(names.SeqScans, namedTable), num(thr), obj, obj, b.pg(names.LiveTuples, namedTable), num(min))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Table {{ $labels.schemaname }}.{{ $labels.relname }} in database {{ $labels.datname }} on {{ $labels.instance }} is read by {{ $value | humanize }} sequential scans per minute over the last 15 minutes (threshold " + num(thr) + "); an index is probably missing."
		},
	},
	{
		Name: "PostgresCheckpointsTooFrequent", For: "15m", Warning: f(4),
		Help:    "Checkpoints requested (by WAL volume or by hand) within one hour.",
		Summary: "PostgreSQL checkpoints are forced too often.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (increase(%s[1h])) >= %s", b.by(), b.pg(names.CheckpointsReq), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "{{ $labels.instance }} had {{ $value | humanize }} requested checkpoints in the last hour (threshold " + num(thr) + "); max_wal_size is probably too small for the write load."
		},
	},
}

var maintenanceAlerts = []*alertSpec{
	{
		Name: "PostgresDeadTuplesHigh", For: "15m", Warning: f(10000),
		Help:    "Dead rows in one table (10 000 by default: enough dead rows to slow scans and grow the table while autovacuum lags behind).",
		Summary: "A table needs vacuuming.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname", "schemaname", "relname"), b.pg(names.DeadTuples, namedTable), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Table {{ $labels.schemaname }}.{{ $labels.relname }} in database {{ $labels.datname }} on {{ $labels.instance }} has {{ $value | humanize }} dead rows (threshold " + num(thr) + ")."
		},
	},
	{
		Name: "PostgresAnalyzeOverdue", For: "15m", Warning: f(5000),
		Help:    "Rows changed in one table since it was last analyzed (5 000 by default: enough changed rows that the planner's statistics may be stale).",
		Summary: "A table's planner statistics are out of date.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname", "schemaname", "relname"), b.pg(names.ModSinceAnalyze, namedTable), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Table {{ $labels.schemaname }}.{{ $labels.relname }} in database {{ $labels.datname }} on {{ $labels.instance }} has {{ $value | humanize }} rows changed since its last analyze (threshold " + num(thr) + ")."
		},
	},
	{
		Name: "PostgresTableBloatHigh", For: "30m", Warning: f(0.5), Min: f(104857600),
		Help:    "Estimated share (0-1) of a table's space that is bloat; min: bloat bytes below which a table is ignored.",
		Summary: "A table holds a lot of unused space.",
		Expr: func(b *builder, thr, min float64) string {
			obj := b.by("datname", "schemaname", "relname")
			return fmt.Sprintf("max by (%s) (%s) >= %s\nand on(%s)\nmax by (%s) (%s) >= %s",
				obj, b.pg(names.TableBloatRatio, namedTable), num(thr), obj, obj, b.pg(names.TableBloatBytes, namedTable), num(min))
		},
		Desc: func(_ *builder, thr float64) string {
			return "An estimated {{ $value | humanizePercentage }} of table {{ $labels.schemaname }}.{{ $labels.relname }} in database {{ $labels.datname }} on {{ $labels.instance }} is bloat (threshold " + pct(thr) + ")."
		},
	},
	{
		Name: "PostgresIndexBloatHigh", For: "30m", Warning: f(0.5), Min: f(10485760),
		Help:    "Estimated share (0-1) of an index that is bloat (50 % by default: at half bloat a REINDEX CONCURRENTLY roughly halves the index); min: bloat bytes below which an index is ignored.",
		Summary: "An index holds a lot of unused space.",
		Expr: func(b *builder, thr, min float64) string {
			obj := b.by("datname", "schemaname", "indexrelname")
			return fmt.Sprintf("max by (%s) (%s) >= %s\nand on(%s)\nmax by (%s) (%s) >= %s",
				obj, b.pg(names.IndexBloatRatio, namedIndex), num(thr), obj, obj, b.pg(names.IndexBloatBytes, namedIndex), num(min))
		},
		Desc: func(_ *builder, thr float64) string {
			return "An estimated {{ $value | humanizePercentage }} of index {{ $labels.schemaname }}.{{ $labels.indexrelname }} in database {{ $labels.datname }} on {{ $labels.instance }} is bloat (threshold " + pct(thr) + ")."
		},
	},
	{
		Name: "PostgresInvalidIndexes", For: "10m", Warning: f(1),
		Help:    "Invalid indexes in a database (left by a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY).",
		Summary: "A database has invalid indexes.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname"), b.pg(names.IndexesInvalid), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Database {{ $labels.datname }} on {{ $labels.instance }} has {{ $value }} invalid indexes (threshold " + num(thr) + "); they cost writes and serve no reads."
		},
	},
	{
		Name: "PostgresChecksumFailures", For: "0s", Critical: f(1),
		Help:    "Data page checksum failures a database reported within a day (any is corruption: storage, memory or a bug wrote a page PostgreSQL cannot trust). Needs data checksums (initdb --data-checksums, or pg_checksums on a stopped cluster).",
		Summary: "PostgreSQL found corrupted data pages.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("sum by (%s) (increase(%s[1d])) >= %s", b.by("datname"), b.pg(names.ChecksumFailures), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Database {{ $labels.datname }} on {{ $labels.instance }} reported {{ $value | humanize }} data page checksum failures in the last day (threshold " + num(thr) + "); pages are corrupted and reads of them fail or return wrong data."
		},
	},
	{
		Name: "PostgresSequenceExhaustion", For: "5m", Warning: f(0.75), Critical: f(0.9),
		Help:    "Share (0-1) of a sequence's range already used (75 % warning, 90 % critical by default): at 100 % nextval() fails and every insert that needs it fails with it. Per sequence, for the most used ones the exporter reports.",
		Summary: "A sequence is running out of values.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("datname", "schemaname", "sequencename"), b.pg(names.SequenceUsed), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Sequence {{ $labels.schemaname }}.{{ $labels.sequencename }} in database {{ $labels.datname }} on {{ $labels.instance }} has used {{ $value | humanizePercentage }} of its range (threshold " + pct(thr) + "); when it runs out, inserts that need it fail."
		},
	},
}

var replicationAlerts = []*alertSpec{
	{
		Name: "PostgresReplicationLagHigh", For: "2m", Warning: f(30), Critical: f(300),
		Help:    "Replay lag of a replica in seconds; only servers in recovery are checked.",
		Summary: "A PostgreSQL replica is behind its primary.",
		Expr: func(b *builder, thr, _ float64) string {
			return b.onReplica(fmt.Sprintf("max by (%s) (%s) >= %s", b.by(), b.pg(names.ReplayLag), num(thr)))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Replica {{ $labels.instance }} replays changes {{ $value | humanizeDuration }} behind its primary (threshold " + dur(thr) + "); reads from it are stale."
		},
	},
	{
		Name: "PostgresWalReceiverDown", For: "2m", Severity: "critical",
		Help:    "A standby has no WAL receiver streaming from its upstream (stopped, or disconnected and retrying). Its replay lag then reads 0 and tells nothing; a standby fed only by restore_command from an archive alerts too (disable the alert for such standbys with a selector).",
		Summary: "A PostgreSQL standby is not receiving WAL.",
		Expr: func(b *builder, _, _ float64) string {
			return b.onReplica(fmt.Sprintf("max by (%s) (%s) == 0", b.by(), b.pg(names.WALReceiverConnected)))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Standby {{ $labels.instance }} has no WAL receiver streaming from its upstream (connected {{ $value }}): it falls behind silently, its replay lag reads 0, and it cannot take over with recent data."
		},
	},
	{
		Name: "PostgresReplicationSlotLost", For: "0s", Severity: "critical",
		Help:    "A replication slot's wal_status is lost: WAL its consumer still needs was removed (max_slot_wal_keep_size), so the consumer cannot resume from it.",
		Summary: "A replication slot lost the WAL its consumer needs.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) == 1", b.by("slot_name", "slot_type"), b.pg(names.SlotWALStatus, `wal_status="lost"`))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Replication slot {{ $labels.slot_name }} ({{ $labels.slot_type }}) on {{ $labels.instance }} has lost WAL its consumer needs (wal_status lost, {{ $value }}); the standby or subscriber behind it must be rebuilt or resynchronised."
		},
	},
	{
		Name: "PostgresReplicationSlotInactive", For: "30m", Severity: "warning",
		Help:    "A replication slot has had no consumer for the whole duration.",
		Summary: "A replication slot has no consumer.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) == 0", b.by("slot_name"), b.pg(names.SlotActive))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Replication slot {{ $labels.slot_name }} on {{ $labels.instance }} is inactive (active {{ $value }}); it keeps WAL on disk until its consumer returns or the slot is dropped."
		},
	},
	{
		Name: "PostgresReplicationSlotWalRetained", For: "5m", Warning: f(1073741824), Critical: f(10737418240),
		Help:    "WAL bytes a replication slot keeps on disk.",
		Summary: "A replication slot retains a lot of WAL.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) >= %s", b.by("slot_name"), b.pg(names.SlotRetainedWAL), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Replication slot {{ $labels.slot_name }} on {{ $labels.instance }} retains {{ $value | humanize1024 }}B of WAL (threshold " + bytesText(thr) + ")."
		},
	},
}

var storageAlerts = []*alertSpec{
	{
		Name: "PostgresDiskSpaceLow", For: "5m", Warning: f(0.2), Critical: f(0.1),
		Help:    "Share (0-1) of the filesystem still free; alerts below it.",
		Summary: "A PostgreSQL filesystem is running out of space.",
		Expr: func(b *builder, thr, _ float64) string {
			return fmt.Sprintf("%s / (%s > 0) < %s", b.pg(names.FSAvail), b.pg(names.FSSize), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Only {{ $value | humanizePercentage }} of the filesystem of {{ $labels.path }} ({{ $labels.usage }}) on {{ $labels.instance }} is free (threshold " + pct(thr) + "); writes fail when it is full."
		},
	},
	{
		Name: "PostgresDiskFillingUp", For: "30m", Warning: f(86400), Critical: f(14400), Min: f(0.4),
		Help:    "Seconds within which the last 6 hours' trend fills the filesystem; min: only while less than this share (0-1) is free.",
		Summary: "A PostgreSQL filesystem will be full soon.",
		Expr: func(b *builder, thr, min float64) string {
			return fmt.Sprintf("predict_linear(%s[6h], %s) < 0\nand\n%s / (%s > 0) < %s",
				b.pg(names.FSAvail), num(thr), b.pg(names.FSAvail), b.pg(names.FSSize), num(min))
		},
		Desc: func(_ *builder, thr float64) string {
			return "At the last 6 hours' trend the filesystem of {{ $labels.path }} ({{ $labels.usage }}) on {{ $labels.instance }} is full within " + dur(thr) + " (predicted free space {{ $value | humanize1024 }}B)."
		},
	},
}
