package remediate

import (
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// recordingRegistry is a pedantic registry that keeps the collectors
// registered with it, so their descriptors can be read back.
type recordingRegistry struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recordingRegistry) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recordingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// TestMetricsMatchCatalogue keeps Metrics (docs/metrics.md) equal to what the
// receiver registers: the same descriptors, and, once every family has a
// series, the same names, types, help and label names on /metrics.
func TestMetricsMatchCatalogue(t *testing.T) {
	pgtest.RequireServer(t, srv)
	reg := &recordingRegistry{Registry: prometheus.NewPedanticRegistry()}
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	cfg, err := Parse("test.yml", []byte(strings.ReplaceAll(receiverConfig("dry-run", "postgres", vacuumRule), "AUDIT", audit)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(r.Routes(reg, nil))
	t.Cleanup(func() { hs.Close(); r.Close() })
	h := &harness{r: r, reg: reg.Registry, url: hs.URL, audit: audit}

	catalogue := map[string]bool{}
	for _, m := range Metrics() {
		catalogue[m.Desc().String()] = true
	}
	registered := map[string]bool{}
	for _, c := range reg.collectors {
		ch := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			registered[d.String()] = true
		}
	}
	for d := range registered {
		if !catalogue[d] {
			t.Errorf("the receiver registers %s, which Metrics does not list", d)
		}
	}
	for d := range catalogue {
		if !registered[d] {
			t.Errorf("Metrics lists %s, which the receiver does not register", d)
		}
	}

	// One decision gives every labelled family a series: the webhook
	// request, the queued alert, the action and its duration; the target's
	// breaker is reported from the configuration.
	a := deadTuplesAlert("postgres", "no_such_table")
	h.send(t, a)
	h.waitRecords(t, 1, forAlert(a))
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering the receiver's registry: %v", err)
	}
	gathered := map[string]bool{}
	for _, f := range families {
		gathered[f.GetName()] = true
		i := slices.IndexFunc(Metrics(), func(m *metric.Metric) bool { return m.Name == f.GetName() })
		if i < 0 {
			t.Errorf("the receiver serves %s, which Metrics does not list", f.GetName())
			continue
		}
		m := Metrics()[i]
		if typ := strings.ToLower(f.GetType().String()); typ != m.TypeName() {
			t.Errorf("%s is served as a %s, listed as a %s", m.Name, typ, m.TypeName())
		}
		if f.GetHelp() != m.Help {
			t.Errorf("%s is served with help %q, listed with %q", m.Name, f.GetHelp(), m.Help)
		}
		for _, s := range f.GetMetric() {
			var names []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
			}
			want := slices.Sorted(slices.Values(m.Labels))
			if !slices.Equal(names, want) {
				t.Errorf("%s is served with labels %v, listed with %v", m.Name, names, want)
			}
		}
	}
	for _, m := range Metrics() {
		if !gathered[m.Name] {
			t.Errorf("Metrics lists %s but the receiver served no series of it", m.Name)
		}
	}
}
