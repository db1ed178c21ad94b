package remediate

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// scrape reads the receiver's /metrics over HTTP, as Prometheus does, and
// returns every sample of the counters and histogram counts by
// "name{label="value",...}" (labels sorted).
func (h *harness) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key, v := name, 0.0
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				key, v = name+"_count", float64(m.GetHistogram().GetSampleCount())
			default:
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			sort.Strings(labels)
			out[key+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func actionSeries(action, alertname, result string) string {
	return `pg_remediation_actions_total{action="` + action + `",alertname="` + alertname + `",result="` + result + `"}`
}

// requireZero fails unless every series is in the scrape at 0.
func requireZero(t *testing.T, when string, got map[string]float64, series ...string) {
	t.Helper()
	for _, s := range series {
		v, ok := got[s]
		switch {
		case !ok:
			t.Errorf("%s: %s is not on /metrics", when, s)
		case v != 0:
			t.Errorf("%s: %s = %v, want 0", when, s, v)
		}
	}
}

// requireAbsent fails if a series that can never be counted is served.
func requireAbsent(t *testing.T, when string, got map[string]float64, series ...string) {
	t.Helper()
	for _, s := range series {
		if v, ok := got[s]; ok {
			t.Errorf("%s: %s = %v is served, but nothing can count it", when, s, v)
		}
	}
}

// The receiver's counters exist at 0 from the start and from the reload that
// configures them, so the first event is a rise from 0 that increase() and
// rate() see; and only label values that can occur are created.
func TestCountersStartAtZero(t *testing.T) {
	pgtest.RequireServer(t, srv)
	h := startReceiver(t, receiverConfig("dry-run", "postgres", vacuumRule))

	start := h.scrape(t)
	const when = "right after start"
	requireZero(t, when, start,
		// An action in dry-run mode: every result but ran, and deferred needs a window.
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "dry_run"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "skipped"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "refused"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "cancelled"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "failed"),
		// Alertmanager's HA peers send copies of the notifications of a mapped alert.
		actionSeries("none", "PostgresDeadTuplesHigh", "duplicate"),
		`pg_remediation_action_duration_seconds_count{action="vacuum"}`,
		`pg_remediation_alerts_total{result="queued"}`,
		`pg_remediation_alerts_total{result="duplicate"}`,
		`pg_remediation_alerts_total{result="ignored"}`,
		`pg_remediation_alerts_total{result="resolved"}`,
		`pg_remediation_webhook_requests_total{code="202"}`,
		`pg_remediation_webhook_requests_total{code="400"}`,
		`pg_remediation_webhook_requests_total{code="405"}`,
		`pg_remediation_webhook_requests_total{code="413"}`,
		`pg_remediation_webhook_requests_total{code="503"}`,
		`pg_remediation_circuit_opened_total{target="db1"}`,
	)
	requireAbsent(t, when, start,
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "ran"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "deferred"),
		// The rule has no matchers: every alert of its name maps to it.
		actionSeries("none", "PostgresDeadTuplesHigh", "ignored"),
		`pg_remediation_webhook_requests_total{code="500"}`,
	)

	// A reload adds a rule with matchers and a window it defers to, and
	// switches to enforce mode.
	cfg, err := Parse("test.yml", []byte(strings.ReplaceAll(
		"windows:\n  nightly: {start: '01:00', end: '03:00', time_zone: UTC}\n"+receiverConfig("enforce", "postgres", vacuumRule+`
  - alertname: PostgresTableBloat
    match: {severity: warning}
    action: analyze
    window: nightly
`), "AUDIT", h.audit)))
	if err != nil {
		t.Fatal(err)
	}
	h.r.Reload(cfg)
	reloaded := h.scrape(t)
	const afterReload = "after a reload that adds a rule"
	var added []string
	for _, res := range []string{"ran", "skipped", "refused", "deferred", "cancelled", "failed"} {
		added = append(added, actionSeries("analyze", "PostgresTableBloat", res))
	}
	requireZero(t, afterReload, reloaded, append(added,
		actionSeries("none", "PostgresTableBloat", "duplicate"),
		// An alert of the name without severity=warning is ignored.
		actionSeries("none", "PostgresTableBloat", "ignored"),
		`pg_remediation_action_duration_seconds_count{action="analyze"}`,
		// Enforce mode: the kept rule can now run.
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "ran"),
		// Queued jobs keep the dry-run configuration they were accepted under.
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "dry_run"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "refused"),
	)...)
	requireAbsent(t, afterReload, reloaded,
		actionSeries("analyze", "PostgresTableBloat", "dry_run"),
		actionSeries("vacuum", "PostgresDeadTuplesHigh", "deferred"),
	)

	// One refused action (no target matches the alert's instance) is a rise
	// from 0 to exactly 1 between two scrapes, which increase() over a window
	// holding both counts as 1; a series born at 1 would count as nothing.
	refusedSeries := actionSeries("vacuum", "PostgresDeadTuplesHigh", "refused")
	a := firing("alertname", "PostgresDeadTuplesHigh", "instance", "elsewhere:9932",
		"datname", "postgres", "schemaname", "public", "relname", "orders")
	h.send(t, a)
	if rec := h.waitRecords(t, 1, forAlert(a))[0]; rec.Result != ResultRefused {
		t.Fatalf("the alert about an unknown instance was decided %+v, want refused", rec)
	}
	after := h.scrape(t)
	for _, s := range []string{refusedSeries, `pg_remediation_alerts_total{result="queued"}`, `pg_remediation_webhook_requests_total{code="202"}`,
		`pg_remediation_action_duration_seconds_count{action="vacuum"}`} {
		before, seen := reloaded[s]
		if !seen || before != 0 || after[s] != 1 {
			t.Errorf("%s: %v (served: %v) before the refusal, %v after; want 0 then exactly 1", s, before, seen, after[s])
		}
	}

	// A reload that drops the first rule keeps its series: its queued and
	// deferred jobs still decide under its labels.
	cfg, err = Parse("test.yml", []byte(strings.ReplaceAll(receiverConfig("enforce", "postgres", `
  - alertname: PostgresTableBloat
    action: analyze
`), "AUDIT", h.audit)))
	if err != nil {
		t.Fatal(err)
	}
	h.r.Reload(cfg)
	if v, ok := h.scrape(t)[refusedSeries]; !ok || v != 1 {
		t.Errorf("after a reload that removes its rule, %s = %v (served: %v), want 1", refusedSeries, v, ok)
	}
}
