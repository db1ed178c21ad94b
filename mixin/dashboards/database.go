package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

// xidLimit is where transaction IDs wrap around: 2^31.
const xidLimit = "2147483648"

func databaseBoard(cfg Config) board {
	by := serverBy + ", datname"
	perDB := func(metric string) string { return "sum by (" + by + ") (" + rate(md(metric)) + ")" }
	return board{
		File: "database-detail.json", UID: "pg-database-detail", Title: "PostgreSQL / Database detail", Tag: "pg-database",
		Description: "Each database's size and growth, row traffic, temporary files, deadlocks, recovery conflicts and transaction ID age, and the server's configuration drift.",
		Rows: []row{
			{Title: "Size", Panels: []panel{
				ts("Database size", "bytes", "How big is each database?",
					q(md(names.DatabaseSize), "{{instance}} {{datname}}")),
				ts("Database growth", "Bps", "How fast does each database grow (or shrink) over the last hour?",
					q("deriv("+md(names.DatabaseSize)+"[1h])", "{{instance}} {{datname}}")),
				ts("Requested checkpoints in the last hour", "short", "Does WAL volume force checkpoints before checkpoint_timeout (max_wal_size too small)?",
					q("sum by ("+serverBy+") (increase("+m(names.CheckpointsReq)+"[1h]))", "{{instance}}")).over(cfg.CheckpointsRequested1h),
			}},
			{Title: "Rows", Panels: []panel{
				ts("Rows written per second", "rowsps", "How many rows does each database insert, update and delete?",
					q(perDB(names.TupInserted), "{{datname}} inserted"),
					q(perDB(names.TupUpdated), "{{datname}} updated"),
					q(perDB(names.TupDeleted), "{{datname}} deleted")),
				ts("Rows read per second", "rowsps", "How many rows do scans return, and how many of them come through indexes?",
					q(perDB(names.TupReturned), "{{datname}} returned"),
					q(perDB(names.TupFetched), "{{datname}} fetched by index")),
				ts("Backends per database", "short", "How many sessions are connected to each database?",
					q(md(names.NumBackends), "{{instance}} {{datname}}")),
			}},
			{Title: "Trouble", Panels: []panel{
				ts("Temporary files per second", "short", "Do queries spill sorts and hashes to disk (work_mem too small)?",
					q(perDB(names.TempFiles), "{{datname}}")),
				ts("Temporary bytes per second", "Bps", "How much do those spills write?",
					q(perDB(names.TempBytes), "{{datname}}")),
				ts("Deadlocks in the last 10 minutes", "short", "Do transactions deadlock? Each deadlock rolls back one of them.",
					q("sum by ("+by+") (increase("+md(names.Deadlocks)+"[10m]))", "{{instance}} {{datname}}")).over(cfg.Deadlocks10m),
				ts("Recovery conflicts per second", "short", "Are queries on a standby cancelled because replay needed what they read?",
					q(perDB(names.Conflicts), "{{datname}}")),
				ts("Recovery conflicts by reason", "short", "On a standby: what cancels its queries, row versions vacuumed on the primary (snapshot), replayed locks (lock), pinned buffers, dropped tablespaces or deadlocks? Per second.",
					q("sum by ("+serverBy+", reason) ("+rate(md(names.ConflictsByReason))+")", "{{instance}} {{reason}}")),
				ts("Checksum failures per second", "short", "Has the server found corrupted data pages?",
					q(perDB(names.ChecksumFailures), "{{datname}}")).over(0),
				ts("Sequences used (top 10)", "percentunit", "Which sequences are closest to running out of values? At 100 % nextval() fails.",
					q("topk(10, "+md(names.SequenceUsed)+")", "{{instance}} {{datname}} {{schemaname}}.{{sequencename}}")).overBoth(cfg.SequenceUsed).ratio(),
				ts("Transaction ID age", "percentunit", "How close is each database to transaction ID wraparound, as a share of the 2^31 limit? Autovacuum forces a freeze at autovacuum_freeze_max_age.",
					q(md(names.XidAge)+" / "+xidLimit, "{{instance}} {{datname}}"),
					q(md(names.MxidAge)+" / "+xidLimit, "{{instance}} {{datname}} multixact"),
					q(m(names.FreezeMaxAge)+" / "+xidLimit, "{{instance}} autovacuum_freeze_max_age")).overBoth(cfg.WraparoundRatio).ratio(),
			}},
			configurationRow(),
		},
	}
}
