// Package scrapetest runs collectors in-process against a real server for
// integration tests: one scrape, its metric families, promlint problems, and
// lookups by name and labels.
package scrapetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// Logger discards unless a test asks for output.
var Logger = slog.New(slog.NewTextHandler(io.Discard, nil))

// Scraper is a target plus the collectors to run on it.
type Scraper struct {
	Target  *target.Target
	Scraper *collector.Scraper
	Timeout time.Duration
}

// New builds a target for dsn and the named collectors (all registered ones
// when names is empty), with cfg (defaults when nil).
func New(tb testing.TB, dsn string, cfg *config.Config, names ...string) *Scraper {
	tb.Helper()
	if cfg == nil {
		var err error
		if cfg, err = config.Load(""); err != nil {
			tb.Fatal(err)
		}
	}
	cc, err := target.ParseDSN("test DSN", dsn, "")
	if err != nil {
		tb.Fatal(err)
	}
	if len(names) == 0 {
		for _, s := range collector.Specs() {
			names = append(names, s.Name)
		}
	}
	ins, err := collector.Build(names, collector.Options{Config: cfg, Logger: Logger})
	if err != nil {
		tb.Fatal(err)
	}
	t := target.New("test", cc, cfg, Logger)
	tb.Cleanup(t.Close)
	return &Scraper{Target: t, Scraper: collector.NewScraper(ins, Logger), Timeout: 10 * time.Second}
}

// Collector adapts one scrape to prometheus.Collector for testutil.
func (s *Scraper) Collector() prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
		defer cancel()
		s.Scraper.Scrape(ctx, s.Target, ch)
	})
}

type collectorFunc func(chan<- prometheus.Metric)

// Describe sends nothing: the collector is unchecked. Describing by collecting
// once would make a family that appears only on a later collection (a session
// that was connecting, say) an "unregistered descriptor" error.
func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// Result is one scrape's metric families by name.
type Result map[string]*dto.MetricFamily

// Scrape gathers once through a pedantic registry (which rejects
// inconsistent or duplicate series) and returns the families.
func (s *Scraper) Scrape(tb testing.TB) Result {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(s.Collector()); err != nil {
		tb.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatalf("gather: %v", err)
	}
	out := Result{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// Lint returns promlint's problems with one scrape.
func (s *Scraper) Lint(tb testing.TB) []promlint.Problem {
	tb.Helper()
	problems, err := testutil.CollectAndLint(s.Collector())
	if err != nil {
		tb.Fatal(err)
	}
	return problems
}

// Names returns the family names, sorted.
func (r Result) Names() []string {
	out := make([]string, 0, len(r))
	for n := range r {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Value returns the value of the one series of name whose labels include
// labels, and whether exactly one matched.
func (r Result) Value(name string, labels map[string]string) (float64, bool) {
	vs := r.Values(name, labels)
	if len(vs) != 1 {
		return 0, false
	}
	return vs[0], true
}

// Values returns the values of every series of name whose labels include labels.
func (r Result) Values(name string, labels map[string]string) []float64 {
	mf := r[name]
	if mf == nil {
		return nil
	}
	var out []float64
	for _, m := range mf.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			out = append(out, m.GetGauge().GetValue())
		case m.Counter != nil:
			out = append(out, m.GetCounter().GetValue())
		case m.Untyped != nil:
			out = append(out, m.GetUntyped().GetValue())
		case m.Histogram != nil:
			out = append(out, float64(m.GetHistogram().GetSampleCount()))
		}
	}
	return out
}

// Sum adds the values of every matching series.
func (r Result) Sum(name string, labels map[string]string) float64 {
	var s float64
	for _, v := range r.Values(name, labels) {
		s += v
	}
	return s
}

func matches(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, lp := range m.GetLabel() {
		have[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// Failed lists the collectors (collector/datname) that reported success 0.
func (r Result) Failed() []string {
	var out []string
	mf := r["pg_scrape_collector_success"]
	if mf == nil {
		return nil
	}
	for _, m := range mf.GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			continue
		}
		var parts []string
		for _, lp := range m.GetLabel() {
			if lp.GetValue() != "" {
				parts = append(parts, lp.GetValue())
			}
		}
		out = append(out, strings.Join(parts, "/"))
	}
	sort.Strings(out)
	return out
}

// RequireUp fails the test unless pg_up is 1 and every collector succeeded.
func (r Result) RequireUp(tb testing.TB) {
	tb.Helper()
	if v, ok := r.Value("pg_up", nil); !ok || v != 1 {
		tb.Fatalf("pg_up = %v (present %v)", v, ok)
	}
	if f := r.Failed(); len(f) > 0 {
		tb.Fatalf("collectors failed: %v", f)
	}
}

// String renders label sets of a family, for failure messages.
func (r Result) String(name string) string {
	mf := r[name]
	if mf == nil {
		return name + ": absent"
	}
	var b strings.Builder
	for _, m := range mf.GetMetric() {
		fmt.Fprintf(&b, "%s%v %v\n", name, m.GetLabel(), r.Values(name, labelsOf(m))[0])
	}
	return b.String()
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}
