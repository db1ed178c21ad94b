package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

const week = "604800"

func fleetBoard(cfg Config) board {
	burn := func(ratio string, objective float64) string {
		return "(1 - " + m(ratio) + ") / " + num(1-objective)
	}
	return board{
		File: "fleet-overview.json", UID: "pg-fleet-overview", Title: "PostgreSQL / Fleet overview", Tag: "pg-fleet",
		Description: "Every server at a glance against its targets: availability, load, cache hit, latency objectives, capacity, replication, recovery point and firing alerts.",
		Rows: []row{
			{Title: "Availability", Panels: []panel{
				ts("Servers up", "short", "Does every server answer the exporter, and does Prometheus reach the exporter? 1 up, 0 down.",
					q(m(names.Up), "{{instance}} server"),
					q(m(names.PrometheusUp), "{{instance}} exporter")).under(1).ratio(),
				ts("Uptime", "s", "When did each server last start? A restart shows as a drop below 10 minutes.",
					q("time() - "+m(names.PostmasterStart), "{{instance}}")).under(cfg.RecentRestart),
				ts("Failing collectors", "short", "Do all collectors succeed on every scrape, or is the exporter blind to part of a server?",
					q("sum by ("+serverBy+") (1 - "+m(names.CollectorSuccess)+")", "{{instance}}")).over(1),
				ts("Availability error budget burn rate", "short", "How fast is the 99.9 % availability budget being spent? 14.4 over an hour pages, 6 over six hours opens a ticket.",
					q(burn(names.RecAvailability1h, cfg.SLOAvailability), "{{instance}} 1h"),
					q(burn(names.RecAvailability5m, cfg.SLOAvailability), "{{instance}} 5m")).over(cfg.BurnRate[1]).over(cfg.BurnRate[0]),
			}},
			{Title: "Load", Panels: []panel{
				ts("Connections against max_connections", "percentunit", "How close is each server to refusing connections? Client backends over the slots ordinary roles may use.",
					q(connectionsUsage(), "{{instance}}")).overBoth(cfg.ConnectionsUsage).ratio(),
				ts("Transactions per second", "ops", "How much work does each server do? Commits and rollbacks per second.",
					q("sum by ("+serverBy+") ("+rate(md(names.XactCommit))+")", "{{instance}} commit"),
					q("sum by ("+serverBy+") ("+rate(md(names.XactRollback))+")", "{{instance}} rollback")),
				ts("Cache hit ratio", "percentunit", "Are reads served from shared buffers? Below 80 % reads go to disk often enough to slow queries.",
					q(cacheHitRatio(serverBy), "{{instance}}")).under(cfg.CacheHitRatio).ratio(),
				ts("Rollback ratio", "percentunit", "What share of transactions is rolled back (errors, serialization failures, deadlock victims)?",
					q(rollbackRatio(serverBy), "{{instance}}")).over(cfg.RollbackRatio).ratio(),
				ts("Statement latency P95 and P99", "s", "Do statements meet the latency objectives, P95 under 100 ms and P99 under 500 ms?",
					q(latencyQuantile("0.95", serverBy), "{{instance}} P95"),
					q(latencyQuantile("0.99", serverBy), "{{instance}} P99")).over(cfg.LatencyP95).over(cfg.LatencyP99),
				ts("Latency objectives burn rate", "short", "How fast are the latency budgets being spent (calls slower than 100 ms beyond 5 %, slower than 500 ms beyond 1 %)?",
					q(burn(names.RecWithin100ms1h, cfg.SLOLatencyP95), "{{instance}} P95 1h"),
					q(burn(names.RecWithin100ms5m, cfg.SLOLatencyP95), "{{instance}} P95 5m"),
					q(burn(names.RecWithin500ms1h, cfg.SLOLatencyP99), "{{instance}} P99 1h"),
					q(burn(names.RecWithin500ms5m, cfg.SLOLatencyP99), "{{instance}} P99 5m")).over(cfg.BurnRate[1]).over(cfg.BurnRate[0]),
			}},
			{Title: "Capacity", Panels: []panel{
				ts("Connections forecast", "percentunit", "Will the connections outgrow the server's usable connection slots (max_connections minus reserved) within a week at the last day's trend?",
					q(m(names.ConnsInUse)+" / on ("+serverBy+") "+usableSlots(), "{{instance}} now"),
					q("predict_linear("+m(names.ConnsInUse)+"[1d], "+week+") / on ("+serverBy+") "+usableSlots(), "{{instance}} in 7 days")).over(cfg.ConnectionsForecast),
				ts("Storage forecast", "percentunit", "Will the databases outgrow the data directory's filesystem within a week at the last day's trend? Needs the disk collector on the database host.",
					q(m(names.RecDatabaseSize)+" / on ("+serverBy+") "+dataFS(), "{{instance}} now"),
					q("predict_linear("+m(names.RecDatabaseSize)+"[1d], "+week+") / on ("+serverBy+") "+dataFS(), "{{instance}} in 7 days")).over(cfg.StorageForecast),
				ts("Throughput forecast", "short", "Will statements per second outgrow the busiest 5 minutes of the last 28 days within a week at the last day's trend? 1 is the busiest load carried so far.",
					q(m(names.RecCallsRate5m)+" / "+peakCalls(), "{{instance}} now"),
					q("predict_linear("+m(names.RecCallsRate5m)+"[1d], "+week+") / "+peakCalls(), "{{instance}} in 7 days")).over(cfg.ThroughputForecast),
				ts("Free disk space", "percentunit", "How much room is left on the filesystems of the data directory, WAL and tablespaces?",
					q(m(names.FSAvail)+" / ("+m(names.FSSize)+" > 0)", "{{instance}} {{usage}} {{tablespace}}")).underBoth(cfg.DiskFreeRatio).ratio(),
				ts("Free disk space in a day", "bytes", "At the last six hours' trend, will a filesystem be full within a day (below 0)?",
					q("predict_linear("+m(names.FSAvail)+"[6h], 86400)", "{{instance}} {{usage}} {{tablespace}}")).under(0),
			}},
			{Title: "Recovery", Panels: []panel{
				ts("Replication lag", "s", "How far behind are the standbys in replaying WAL, measured on each standby?",
					q("max by ("+serverBy+") ("+m(names.ReplayLag)+")", "{{instance}}")).overBoth(cfg.ReplicationLag),
				ts("Data at risk (RPO)", "s", "How much committed work would a loss of the server lose? Time since WAL was last archived and age of the oldest WAL file waiting, against the 15 minute RPO.",
					q(walAtRisk(), "{{instance}} data at risk")).over(cfg.RPO),
				ts("Firing alerts by severity", "short", "Which alerts of the rule pack fire now, by severity?",
					q("sum by (severity) ("+m(names.PrometheusAlerts, `alertstate="firing"`)+")", "{{severity}}")).stacked(),
			}},
		},
	}
}

// usableSlots is the connection slots ordinary roles can use.
func usableSlots() string {
	return "(max by (" + serverBy + ") (" + m(names.ConnsMax) + ") - max by (" + serverBy + ") (" + m(names.ConnsReserved) + "))"
}

// dataFS is the size of the data directory's filesystem.
func dataFS() string {
	return "max by (" + serverBy + ") (" + m(names.FSSize, `usage="data"`) + ")"
}

// peakCalls is the busiest 5-minute statement rate of the last 28 days.
func peakCalls() string {
	return "(max_over_time(" + m(names.RecCallsRate5m) + "[28d]) > 0)"
}
