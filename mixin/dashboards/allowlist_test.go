package dashboards

// notDeclaredHere lists names the dashboards read that the exporter's metric
// catalogue (metricsdoc.All) does not hold: the remediation receiver registers
// its own metrics in its own process (remediate/metrics.go). The test fails
// for a name listed here once the catalogue declares it.
var notDeclaredHere = map[string]string{
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
