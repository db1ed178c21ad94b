package dashboards

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// copiedAlerts are the alert names of the rule pack as its branch had them
// when this table was last compared; the test uses them only while rules/
// does not exist here. After the rule pack is merged the test reads
// rules/*.yml instead, and this copy can go.
var copiedAlerts = []string{
	"PgBouncerDown", "PgBouncerClientsWaiting", "PostgresDown", "PostgresExporterDown",
	"PostgresRestarted", "PostgresCollectorFailing", "PostgresExporterConfigReloadFailed",
	"PostgresFailover", "PostgresSplitBrain", "PostgresConnectionsHigh", "PostgresPoolUtilizationHigh",
	"PostgresPoolExhausted", "PostgresConnectionsBypassPool", "PostgresConnectionCapacityForecast",
	"PostgresStorageCapacityForecast", "PostgresThroughputCapacityForecast",
	"PostgresLongRunningTransaction", "PostgresIdleInTransaction", "PostgresBlockingSessions",
	"PostgresLockWaitsHigh", "PostgresDeadlocksHigh", "PostgresRollbackRatioHigh",
	"PostgresXidWraparound", "PostgresCacheHitRatioLow", "PostgresLatencyP95High",
	"PostgresLatencyP99High", "PostgresSlowQueriesHigh", "PostgresSeqScansOnLargeTable",
	"PostgresCheckpointsTooFrequent", "PostgresDeadTuplesHigh", "PostgresAnalyzeOverdue",
	"PostgresTableBloatHigh", "PostgresIndexBloatHigh", "PostgresInvalidIndexes",
	"PostgresReplicationLagHigh", "PostgresReplicationSlotInactive",
	"PostgresReplicationSlotWalRetained", "PostgresDiskSpaceLow", "PostgresDiskFillingUp",
	"PostgresWalArchivingFailing", "PostgresRPOBreached", "PostgresBackupFailed",
	"PostgresFullBackupTooOld", "PostgresIncrementalBackupTooOld", "PostgresBackupSizeAnomaly",
	"PostgresBackupUnverified", "PostgresRestoreTestOverdue", "PostgresBackupRepositoryUnencrypted",
	"PostgresBackupRetentionExceeded", "PostgresAvailabilityBudgetBurn",
	"PostgresLatencyP95BudgetBurn", "PostgresLatencyP99BudgetBurn",
}

// ruleExprs reads every rule's expression, by alert or record name.
func ruleExprs(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct{ Alert, Record, Expr string } `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(raw, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				out[r.Alert+r.Record] = append(out[r.Alert+r.Record], r.Expr)
			}
		}
	}
	return out
}

// readsOf is every metric an expression reads, through recording rules.
func readsOf(t *testing.T, exprs map[string][]string, expr string, seen map[string]bool) map[string]bool {
	out := map[string]bool{}
	sels, err := selectors(expr)
	if err != nil {
		t.Fatalf("rule expression %q: %v", expr, err)
	}
	for _, s := range sels {
		out[s.Metric] = true
		if rec, ok := exprs[s.Metric]; ok && !seen[s.Metric] {
			seen[s.Metric] = true
			for _, e := range rec {
				for n := range readsOf(t, exprs, e, seen) {
					out[n] = true
				}
			}
		}
	}
	return out
}

// TestEveryAlertHasAPanel checks that each alert of the rule pack maps to a
// panel that exists, draws a threshold (or a computed bound), and, with the
// rule pack present, reads a series the alert reads.
func TestEveryAlertHasAPanel(t *testing.T) {
	_, alerts, haveRules := rulePack(t)
	if !haveRules {
		alerts = map[string]bool{}
		for _, a := range copiedAlerts {
			alerts[a] = true
		}
	}
	panels := map[panelRef]panel{}
	for _, b := range boards(Defaults()) {
		for _, p := range b.panels() {
			panels[panelRef{b.UID, p.Title}] = p
		}
	}
	var exprs map[string][]string
	if haveRules {
		exprs = ruleExprs(t)
	}
	var names []string
	for a := range alerts {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		ref, ok := alertPanels[a]
		if !ok {
			t.Errorf("alert %s has no panel in alertPanels (alerts.go)", a)
			continue
		}
		p, ok := panels[ref]
		if !ok {
			t.Errorf("alert %s: no panel %q on dashboard %s", a, ref.Title, ref.UID)
			continue
		}
		bound := false
		for _, q := range p.Queries {
			bound = bound || strings.HasPrefix(q.Legend, boundLegend)
		}
		if len(p.Lines) == 0 && !bound {
			t.Errorf("alert %s: panel %q draws no threshold", a, p.Title)
		}
		if !haveRules {
			continue
		}
		alertReads := map[string]bool{}
		for _, e := range exprs[a] {
			for n := range readsOf(t, exprs, e, map[string]bool{}) {
				alertReads[n] = true
			}
		}
		shared := false
		for _, q := range p.Queries {
			sels, _ := selectors(q.Expr)
			for _, s := range sels {
				shared = shared || alertReads[s.Metric]
			}
		}
		if !shared {
			t.Errorf("alert %s: panel %q reads none of the series the alert reads", a, p.Title)
		}
	}
	for a := range alertPanels {
		if !alerts[a] {
			t.Errorf("alertPanels maps %s, which the rule pack does not have", a)
		}
	}
}
