package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

// boards lists every dashboard in the order the link bar shows them.
func boards(cfg Config) []board {
	return []board{
		fleetBoard(cfg), databaseBoard(cfg), queriesBoard(cfg), tablesBoard(cfg),
		sessionsBoard(cfg), replicationBoard(cfg), remediationBoard(cfg),
	}
}

// Expressions more than one board shows.

func cacheHitRatio(by string) string {
	return "sum by (" + by + ") (" + rate(md(names.BlksHit)) + ")\n/\n(sum by (" + by + ") (" + rate(md(names.BlksHit)) + " + " + rate(md(names.BlksRead)) + ") > 0)"
}

func rollbackRatio(by string) string {
	return "sum by (" + by + ") (" + rate(md(names.XactRollback)) + ")\n/\n(sum by (" + by + ") (" + rate(md(names.XactCommit)) + " + " + rate(md(names.XactRollback)) + ") > 0)"
}

// latencyQuantile reads the native histogram where Prometheus stores one,
// else the classic buckets.
func latencyQuantile(qt, by string) string {
	return "histogram_quantile(" + qt + ", sum by (" + by + ") (" + rate(md(names.StmtDuration)) + "))\nor\n" +
		"histogram_quantile(" + qt + ", sum by (" + by + ", le) (" + rate(md(names.StmtBucket)) + "))"
}

func slowQueryRatio(cfg Config, by string) string {
	all := "sum by (" + by + ") (" + rate(md(names.StmtCount)) + ")"
	fast := "sum by (" + by + ") (" + rate(md(names.StmtBucket, bucket(cfg.SlowQuery))) + ")"
	return "(" + all + " - " + fast + ")\n/\n(" + all + " > 0)"
}

func connectionsUsage() string {
	return m(names.ConnsInUse) + "\n/ on (" + serverBy + ")\n(" + m(names.ConnsMax) + " - " + m(names.ConnsReserved) + ")"
}

func replicationLag() string {
	return "max by (" + serverBy + ", application_name) (" + m(names.StandbyReplayLag) + ")"
}

// walAtRisk is the rule pack's recorded age of unarchived WAL, the series
// PostgresRPOBreached compares with the RPO.
func walAtRisk() string {
	return m(names.RecWALAtRisk)
}
