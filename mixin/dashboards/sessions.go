package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

func sessionsBoard(cfg Config) board {
	// One exporter may watch several PgBouncers; its pgbouncer label names
	// each, so the sums keep it and the legends show it.
	bouncer := func(metric string) string {
		return "sum by (" + serverBy + ", pgbouncer, database, user) (" + m(metric) + ")"
	}
	pool := "{{pgbouncer}} {{database}} {{user}}"
	return board{
		File: "sessions-locks-pools.json", UID: "pg-sessions-locks-pools", Title: "PostgreSQL / Sessions, locks and pools", Tag: "pg-sessions",
		Description: "Service pools against their limits, session states, blocked sessions and lock waits, long and idle transactions, PgBouncer pools and the exporter's own connections.",
		Rows: []row{
			{Title: "Service pools", Panels: []panel{
				ts("Pool utilization per service", "percentunit", "Does any service use more than 70 % of its connection limit?",
					q("sum by ("+serverBy+", pool) ("+m(names.PoolConnections)+")\n/ on ("+serverBy+", pool)\n("+m(names.PoolMax)+" > 0)", "{{instance}} {{pool}}")).overBoth(cfg.PoolUtilization).ratio(),
				ts("Pool connections by state", "short", "What are each service's connections doing?",
					q("sum by ("+serverBy+", pool, state) ("+m(names.PoolConnections)+")", "{{pool}} {{state}}")).stacked(),
				ts("Sessions outside every pool", "short", "Which applications connect without going through a configured service pool?",
					q("sum by ("+serverBy+", application_name) ("+m(names.PoolUnmatched)+")", "{{instance}} {{application_name}}")).over(1),
			}},
			{Title: "Sessions", Panels: []panel{
				ts("Sessions by state", "short", "What are the client sessions doing: active, idle, idle in transaction?",
					q("sum by ("+serverBy+", state) ("+md(names.ActivityConns)+")", "{{instance}} {{state}}")).stacked(),
				ts("Sessions by database and user", "short", "Who holds the connections?",
					q("sum by ("+serverBy+", datname, usename) ("+md(names.ActivityConns)+")", "{{datname}} {{usename}}")).stacked(),
				waitEventsPanel(),
				ts("Longest open transaction", "s", "Does a transaction run longer than 30 s, holding locks and keeping VACUUM from cleaning up?",
					q("max by ("+serverBy+", datname) ("+md(names.MaxTxDuration)+")", "{{instance}} {{datname}}")).overBoth(cfg.LongTransaction),
				ts("Long-running transactions", "short", "How many transactions are older than the exporter's long-transaction threshold?",
					q(md(names.LongRunning), "{{instance}} {{datname}}")).over(1),
				ts("Longest idle in transaction", "s", "Does a session sit idle inside an open transaction?",
					q(md(names.IdleInTxDuration), "{{instance}} {{datname}}")).overBoth(cfg.IdleInTransaction),
				ts("Sessions idle in transaction", "short", "How many sessions sit idle inside an open transaction?",
					q(md(names.IdleInTxSessions), "{{instance}} {{datname}}")),
			}},
			{Title: "Locks", Panels: []panel{
				ts("Blocked sessions", "short", "Are sessions waiting on another session's lock, and how many sessions block them?",
					q(m(names.BlockedSessions), "{{instance}} blocked"),
					q(m(names.BlockingSessions), "{{instance}} blocking")).over(cfg.BlockedSessions),
				ts("Lock waiters", "short", "How many sessions wait for a heavyweight lock, and how long has the longest waited (seconds)?",
					q(m(names.LocksWaiting), "{{instance}} waiting"),
					q(m(names.LocksMaxWait), "{{instance}} longest wait, seconds")).over(cfg.LockWaiters),
				ts("Locks by mode", "short", "Which lock modes are held and which are awaited?",
					q("sum by ("+serverBy+", mode, granted) ("+m(names.Locks)+")", "{{mode}} granted={{granted}}")),
				ts("Prepared transactions", "short", "Are two-phase transactions left prepared, holding locks and the xmin horizon?",
					q(m(names.PreparedXacts), "{{instance}} count"),
					q(m(names.PreparedXactsAge), "{{instance}} oldest, seconds")),
				ts("Oldest xmin by holder", "percentunit", "What keeps VACUUM from removing dead rows: a backend, a replication slot or a prepared transaction?",
					q(m(names.XminHorizonAge)+" / "+xidLimit, "{{instance}} {{holder}}")).overBoth(cfg.WraparoundRatio),
			}},
			{Title: "PgBouncer", Panels: []panel{
				ts("PgBouncer clients waiting", "short", "Do clients queue for a server connection in PgBouncer?",
					q(bouncer(names.BouncerClWaiting), pool+" waiting"),
					q(bouncer(names.BouncerClActive), pool+" active")),
				ts("PgBouncer longest client wait", "s", "How long has the oldest waiting client waited?",
					q(bouncer(names.BouncerMaxWait), pool)).overBoth(cfg.PgBouncerMaxWait),
				ts("PgBouncer server connections against pool size", "short", "Are PgBouncer's pools full?",
					q(bouncer(names.BouncerSvActive), pool+" active"),
					q(bouncer(names.BouncerSvIdle), pool+" idle"),
					q("sum by ("+serverBy+", pgbouncer, name) ("+m(names.BouncerDBPoolSize)+")", "{{pgbouncer}} {{name}} pool size")),
				ts("PgBouncer queries per second", "ops", "How much traffic goes through PgBouncer?",
					q("sum by ("+serverBy+", pgbouncer, database) ("+rate(m(names.BouncerQueriesPool))+")", "{{pgbouncer}} {{database}}")),
				ts("PgBouncer up", "short", "Does PgBouncer's admin console answer? 1 up, 0 down.",
					q(m(names.BouncerUp), "{{instance}} {{pgbouncer}}")).under(1).ratio(),
			}},
			{Title: "Exporter", Panels: []panel{
				ts("Exporter connections", "short", "How many connections does the exporter itself hold on each server (as each user), against its cap? Targets that differ only in the database share one pool.",
					q("sum by ("+serverBy+", server, state) ("+m(names.ExporterPoolConn)+")", "{{server}} {{state}}"),
					q(m(names.ExporterPoolMax), "{{server}} max")),
				ts("Exporter circuit breaker", "short", "Has the exporter stopped trying a target after repeated failures? 0 closed, 1 open, 2 half-open.",
					q(m(names.ExporterBreaker), "{{target}}")).over(1),
				ts("Exporter configuration loaded", "short", "Did the exporter's last configuration reload succeed? 0 means it still runs the previous one.",
					q(m(names.ReloadSuccessful), "{{instance}}")).under(1).ratio(),
				ts("Scrape duration", "s", "How long does a scrape of each server take?",
					q(m(names.ScrapeDuration), "{{instance}}")),
			}},
		},
	}
}
