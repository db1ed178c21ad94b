package dashboards

// notDeclaredHere lists the metric and recording-rule names the dashboards
// read that this branch does not declare, with where each comes from. The
// test fails for a name listed here once it is declared (or recorded), so the
// list only shrinks: delete the line then.
var notDeclaredHere = map[string]string{
	// activity, pools, locks, wraparound, bgwriter, WAL, security collectors

	// replication, slots, archiver, disk collectors

	// statements, tables, indexes, bloat, schema, progress collectors
	mStmtBucket:       "collector statements (histogram)",
	mStmtCount:        "collector statements (histogram)",
	mStmtCalls:        "collector statements",
	mStmtExecTime:     "collector statements",
	mStmtSharedRead:   "collector statements",
	mStmtSharedHit:    "collector statements",
	mStmtTempWrite:    "collector statements",
	mStmtDealloc:      "collector statements",
	mTopExecTime:      "collector statements",
	mTopCalls:         "collector statements",
	mTopRows:          "collector statements",
	mTopSharedRead:    "collector statements",
	mSeqScans:         "collector tables",
	mLiveTuples:       "collector tables",
	mDeadTuples:       "collector tables",
	mModSinceAnalyze:  "collector tables",
	mLastVacuum:       "collector tables",
	mLastAutovacuum:   "collector tables",
	mLastAnalyze:      "collector tables",
	mLastAutoanalyze:  "collector tables",
	mTableBloatRatio:  "collector bloat",
	mTableBloatBytes:  "collector bloat",
	mIndexBloatRatio:  "collector bloat",
	mIndexUnused:      "collector indexes",
	mIndexSize:        "collector indexes",
	mIndexesInvalid:   "collector indexes",
	mIndexesUnused:    "collector indexes",
	mSchemaIssues:     "collector schema",
	mProgressOps:      "collector progress",
	mProgressBlocks:   "collector progress",
	mProgressBlksDone: "collector progress",

	// remediation receiver (remediate/metrics.go, its own registry)
	mRemActions:       "remediation receiver",
	mRemDurationBkt:   "remediation receiver (histogram)",
	mRemAlerts:        "remediation receiver",
	mRemRequests:      "remediation receiver",
	mRemQueueLength:   "remediation receiver",
	mRemQueueCapacity: "remediation receiver",
	mRemDeferred:      "remediation receiver",
	mRemCircuit:       "remediation receiver",
	mRemReloadOK:      "remediation receiver",
}
