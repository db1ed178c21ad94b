package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

func queriesBoard(cfg Config) board {
	by := serverBy + ", datname"
	top := func(metric string) string {
		return "topk(10, sum by (instance, datname, usename, queryid) (" + increaseRange(md(metric)) + "))"
	}
	perDB := func(metric string) string { return "sum by (" + by + ") (" + rate(md(metric)) + ")" }
	heat := panel{Title: "Statement latency heatmap", Unit: "s", Viz: vizHeatmap, Width: 16,
		Description: "How are statement latencies spread? Calls per latency bucket of the histogram built from pg_stat_statements.",
		Queries:     []query{{Expr: "sum by (le) (" + rate(md(names.StmtBucket)) + ")", Legend: "{{le}}", Format: "heatmap"}}}
	return board{
		File: "queries.json", UID: "pg-queries", Title: "PostgreSQL / Queries", Tag: "pg-queries",
		Description: "Statement latency against the objectives, slow statements, and the statements that cost the most time, calls, rows and reads.",
		Rows: []row{
			{Title: "Latency", Panels: []panel{
				heat,
				ts("Latency P95 and P99 per database", "s", "Does each database meet P95 under 100 ms and P99 under 500 ms?",
					q(latencyQuantile("0.95", by), "{{datname}} P95"),
					q(latencyQuantile("0.99", by), "{{datname}} P99")).over(cfg.LatencyP95).over(cfg.LatencyP99),
				ts("Slow-statement ratio", "percentunit", "What share of statement calls takes longer than the slow-query threshold (500 ms)?",
					q(slowQueryRatio(cfg, by), "{{instance}} {{datname}}")).overBoth(cfg.SlowQueryRatio).ratio(),
				ts("Calls per second", "ops", "How many statements run, per database and user?",
					q("sum by ("+by+", usename) ("+rate(md(names.StmtCalls))+")", "{{datname}} {{usename}}")),
				ts("Execution time per second", "s", "How much server time do statements take, per database and user? 1 s/s is one busy backend.",
					q("sum by ("+by+", usename) ("+rate(md(names.StmtExecTime))+")", "{{datname}} {{usename}}")),
			}},
			{Title: "I/O", Panels: []panel{
				ts("Statement blocks per second", "short", "Do statements read from shared buffers or from disk, and do they spill to temporary files?",
					q(perDB(names.StmtSharedHit), "{{datname}} hit"),
					q(perDB(names.StmtSharedRead), "{{datname}} read"),
					q(perDB(names.StmtTempWrite), "{{datname}} temp written")),
				ts("Statement cache hit ratio", "percentunit", "What share of the blocks statements touch is found in shared buffers?",
					q(perDB(names.StmtSharedHit)+"\n/\n("+perDB(names.StmtSharedHit)+" + "+perDB(names.StmtSharedRead)+" > 0)", "{{datname}}")).under(cfg.CacheHitRatio).ratio(),
				ts("pg_stat_statements evictions", "short", "Is pg_stat_statements.max too small, so that entries are evicted and statistics lost? (PostgreSQL 14 and later.)",
					q(increaseRange(m(names.StmtDealloc)), "{{instance}}")),
			}},
			{Title: "Top statements", Panels: []panel{
				table("Top statements by total time", "s", "Which statements took the most execution time in the selected range?",
					q(top(names.TopExecTime), "")),
				table("Top statements by calls", "short", "Which of the top statements run most often?",
					q(top(names.TopCalls), "")),
				table("Top statements by rows", "short", "Which of the top statements return or change the most rows?",
					q(top(names.TopRows), "")),
				table("Top statements by blocks read", "short", "Which of the top statements read the most blocks from disk?",
					q(top(names.TopSharedRead), "")),
			}},
		},
	}
}
