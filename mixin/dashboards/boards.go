package dashboards

// boards lists every dashboard in the order the link bar shows them.
func boards(cfg Config) []board {
	return []board{
		fleetBoard(cfg), databaseBoard(cfg), queriesBoard(cfg), tablesBoard(cfg),
		sessionsBoard(cfg), replicationBoard(cfg), remediationBoard(cfg),
	}
}

// Expressions more than one board shows.

func cacheHitRatio(by string) string {
	return "sum by (" + by + ") (" + rate(md(mBlksHit)) + ")\n/\n(sum by (" + by + ") (" + rate(md(mBlksHit)) + " + " + rate(md(mBlksRead)) + ") > 0)"
}

func rollbackRatio(by string) string {
	return "sum by (" + by + ") (" + rate(md(mXactRollback)) + ")\n/\n(sum by (" + by + ") (" + rate(md(mXactCommit)) + " + " + rate(md(mXactRollback)) + ") > 0)"
}

func latencyQuantile(qt, by string) string {
	return "histogram_quantile(" + qt + ", sum by (" + by + ", le) (" + rate(md(mStmtBucket)) + "))"
}

func slowQueryRatio(cfg Config, by string) string {
	all := "sum by (" + by + ") (" + rate(md(mStmtCount)) + ")"
	fast := "sum by (" + by + ") (" + rate(md(mStmtBucket, `le="`+num(cfg.SlowQuery)+`"`)) + ")"
	return "(" + all + " - " + fast + ")\n/\n(" + all + " > 0)"
}

func connectionsUsage() string {
	return m(mConnsInUse) + "\n/ on (" + serverBy + ")\n(" + m(mConnsMax) + " - " + m(mConnsReserved) + ")"
}

func replicationLag() string {
	return "max by (" + serverBy + ", application_name) (" + m(mStandbyReplayLag) + ")"
}

func walAtRisk() string {
	return "time() - " + m(mArchiveReadyOldest)
}

func sinceArchived() string {
	return "time() - " + m(mLastArchived)
}
