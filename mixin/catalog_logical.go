package mixin

import (
	"fmt"

	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// logicalFile holds the alerts on logical replication and on configuration
// drift, in groups of their own.
const logicalFile = "postgres-logical-config.yml"

var logicalReplicationAlerts = []*alertSpec{
	{
		Name: "PostgresSubscriptionWorkerDown", For: "10m", Severity: "warning",
		Help:    "A logical replication subscription has had no apply worker for the whole duration: it is disabled, or its worker keeps failing.",
		Summary: "A logical replication subscription is not applying changes.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) == 0", b.by("datname", "subname"), b.pg(names.SubWorkers, `worker_type="apply"`))
		},
		Desc: func(_ *builder, _ float64) string {
			return "Subscription {{ $labels.subname }} in database {{ $labels.datname }} on {{ $labels.instance }} has no apply worker (workers {{ $value }}): it is disabled or its worker keeps failing, so changes from the publisher are not applied and its slot there retains WAL."
		},
	},
	{
		Name: "PostgresSubscriptionErrors", For: "0s", Warning: f(1),
		Help:    "Errors of a subscription's apply and table sync workers over the last 10 minutes (PostgreSQL 15 and later count them).",
		Summary: "A logical replication subscription is failing.",
		Expr: func(b *builder, thr, _ float64) string {
			by := b.by("datname", "subname")
			return fmt.Sprintf("sum by (%s) (increase(%s[10m]))\n+ on(%s)\nsum by (%s) (increase(%s[10m]))\n>= %s",
				by, b.pg(names.SubApplyErrors), by, by, b.pg(names.SubSyncErrors), num(thr))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Subscription {{ $labels.subname }} in database {{ $labels.datname }} on {{ $labels.instance }} had {{ $value | humanize }} apply or table sync errors in the last 10 minutes (threshold " + num(thr) + "); each error stops its worker until the cause (often a conflicting row) is fixed."
		},
	},
	{
		Name: "PostgresLogicalSlotInactiveRetainingWal", For: "15m", Warning: f(268435456),
		Help:    "WAL bytes kept by a logical replication slot that has no consumer (its subscriber or decoding client is gone).",
		Summary: "An unused logical replication slot retains WAL.",
		Expr: func(b *builder, thr, _ float64) string {
			by := b.by("slot_name")
			return fmt.Sprintf("max by (%s) (%s) >= %s\nand on(%s)\nmax by (%s) (%s) == 0",
				by, b.pg(names.SlotRetainedWAL, `slot_type="logical"`), num(thr), by, by, b.pg(names.SlotActive, `slot_type="logical"`))
		},
		Desc: func(_ *builder, thr float64) string {
			return "Logical replication slot {{ $labels.slot_name }} on {{ $labels.instance }} has no consumer and retains {{ $value | humanize1024 }}B of WAL (threshold " + bytesText(thr) + "); it grows until the subscriber returns or the slot is dropped."
		},
	},
}

var configurationAlerts = []*alertSpec{
	{
		Name: "PostgresRestartPending", For: "24h", Severity: "warning",
		Help:    "A reloaded setting has been waiting for a restart for the whole duration: the next restart, planned or not, changes the server's behaviour.",
		Summary: "PostgreSQL settings wait for a restart.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) > 0", b.by(), b.pg(names.SettingsPending))
		},
		Desc: func(_ *builder, _ float64) string {
			return "{{ $value }} settings on {{ $labels.instance }} were changed and reloaded but take effect only at the next restart (pg_settings_pending_restart names them); plan the restart or revert the change."
		},
	},
	{
		Name: "PostgresConfigFileErrors", For: "10m", Severity: "warning",
		Help:    "Entries of postgresql.conf (and its includes, postgresql.auto.conf) or lines of pg_hba.conf that cannot be applied; needs a role that may read pg_file_settings and pg_hba_file_rules.",
		Summary: "PostgreSQL configuration files contain errors.",
		Expr: func(b *builder, _, _ float64) string {
			return fmt.Sprintf("max by (%s) (%s) > 0\nor\nmax by (%s) (%s) > 0", b.by(), b.pg(names.SettingsFileErrors), b.by(), b.pg(names.HbaFileErrors))
		},
		Desc: func(_ *builder, _ float64) string {
			return "The configuration files of {{ $labels.instance }} hold {{ $value }} entries that cannot be applied (pg_file_settings, or pg_hba_file_rules when the settings are clean); the next reload or restart meets them."
		},
	},
	{
		Name: "PostgresSettingsDiffer", For: "30m", Severity: "warning",
		Help:    "Servers with the same cluster label run different server-wide settings (pg_settings_hash differs). Series without the cluster label are never compared.",
		Summary: "Members of a PostgreSQL cluster run different settings.",
		Expr: func(b *builder, _, _ float64) string {
			l := b.c.ClusterLabel
			by := b.clusterBy()
			return fmt.Sprintf("count by (%s) (count_values by (%s) (\"hash\", %s)) > 1", by, by, b.pg(names.SettingsHash, l+`!=""`))
		},
		Desc: func(b *builder, _ float64) string {
			l := b.c.ClusterLabel
			return "The servers of " + l + " {{ $labels." + l + " }} run {{ $value }} different sets of server-wide settings; a failover would change the behaviour the applications see. Compare pg_settings on the members (docs/collectors/config-drift.md)."
		},
	},
}
