package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

// logicalReplicationRow shows both ends of logical replication: the
// subscriptions of a subscriber and the logical slots of a publisher.
func logicalReplicationRow(cfg Config) row {
	sub := "{{instance}} {{datname}} {{subname}}"
	subBy := "sum by (" + serverBy + ", datname, subname) "
	logical := `slot_type="logical"`
	return row{Title: "Logical replication", Panels: []panel{
		ts("Subscription apply workers", "short", "Does every subscription have its apply worker? 0 means it is disabled or its worker keeps failing.",
			q(md(names.SubWorkers, `worker_type="apply"`), sub),
			q(md(names.SubEnabled), sub+" enabled")).under(1),
		ts("Subscription errors in the last 10 minutes", "short", "Do a subscription's apply or table sync workers fail (15 and later)?",
			q(subBy+"(increase("+md(names.SubApplyErrors)+"[10m]))", sub+" apply"),
			q(subBy+"(increase("+md(names.SubSyncErrors)+"[10m]))", sub+" table sync")).over(1),
		ts("Time since the publisher was last heard", "s", "How long ago did each subscription's apply worker last receive a message from its publisher?",
			q("time() - "+md(names.SubLastReceipt), sub)),
		ts("Subscription tables by state", "short", "Are all tables of each subscription ready, or still being copied?",
			q(subBy+"("+md(names.SubTables, `state!="ready"`)+")", sub+" not ready"),
			q(subBy+"("+md(names.SubTables, `state="ready"`)+")", sub+" ready")),
		ts("WAL retained by unused logical slots", "bytes", "Does a logical slot whose subscriber or decoding client is gone keep WAL?",
			q(m(names.SlotRetainedWAL, logical)+"\nand on ("+serverBy+", slot_name)\n"+m(names.SlotActive, logical)+" == 0", "{{instance}} {{slot_name}}")).over(cfg.LogicalSlotRetainedWAL),
		ts("Logical decoding spilled and sent", "Bps", "Does logical decoding spill transactions to disk (logical_decoding_work_mem too small), and how much does each slot send?",
			q(rate(m(names.SlotSpillBytes)), "{{instance}} {{slot_name}} spilled"),
			q(rate(m(names.SlotDecodedBytes)), "{{instance}} {{slot_name}} decoded")),
	}}
}

// configurationRow shows the configuration drift of each server.
func configurationRow() row {
	return row{Title: "Configuration", Panels: []panel{
		ts("Settings waiting for a restart", "short", "Were settings changed and reloaded that take effect only at the next restart?",
			q(m(names.SettingsPending), "{{instance}}")).over(1),
		ts("Configuration file errors", "short", "Do postgresql.conf or pg_hba.conf hold entries the next reload or restart cannot apply? Needs the grants in docs/collectors/config-drift.md.",
			q(m(names.SettingsFileErrors), "{{instance}} settings"),
			q(m(names.HbaFileErrors), "{{instance}} pg_hba.conf")).over(1),
		ts("Settings variants per cluster", "short", "Do the members of each cluster run the same server-wide settings? More than 1 means they differ. Needs a cluster label on the targets.",
			q(`count by (cluster) (count_values by (cluster) ("hash", `+m(names.SettingsHash, `cluster!=""`)+"))", "{{cluster}}")).over(2),
	}}
}

// waitEventsPanel shows what active sessions wait for, averaged over the
// scrapes of a few minutes since each scrape is one sample.
func waitEventsPanel() panel {
	return ts("Active sessions by wait event", "short", "What do active sessions wait for? Averaged over 5 minutes of scrapes; an empty event is a session running (or in a wait PostgreSQL does not instrument).",
		q("sum by ("+serverBy+", wait_event_type, wait_event) (avg_over_time("+md(names.WaitEventSessions)+"[5m]))", "{{instance}} {{wait_event_type}} {{wait_event}}")).stacked()
}
