// Package families gathers metric families into a map by name for tests,
// and looks series up by name and labels.
package families

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Result is one gathering's metric families by name.
type Result map[string]*dto.MetricFamily

// Gather collects c once through a pedantic registry, which rejects
// inconsistent or duplicate series, and returns the families.
func Gather(tb testing.TB, c prometheus.Collector) Result {
	tb.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
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

// One returns the value of the one series of name whose labels include
// labels, and fails the test unless exactly one matches.
func (r Result) One(tb testing.TB, name string, labels map[string]string) float64 {
	tb.Helper()
	v, ok := r.Value(name, labels)
	if !ok {
		tb.Fatalf("%s%v: want exactly one series\n%s", name, labels, r.String(name))
	}
	return v
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
