// Package metric declares metric families once, with what docs/metrics.md says
// about them, and emits their samples as const metrics. It imports nothing of
// this module, so every part of the exporter and the receiver can use it.
package metric

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metric is one metric family the exporter or the receiver emits, with what
// docs/metrics.md says about it. Descriptors are built once; Emit makes a const metric per scrape.
type Metric struct {
	Name     string
	Help     string
	Type     prometheus.ValueType
	Labels   []string
	Source   string // the view or function it comes from
	Versions string // the PostgreSQL versions that have it, e.g. "13+" or "14+"
	// Pattern marks a family whose real names are made at scrape time (e.g.
	// pg_settings_<name>); Name then holds the pattern and Desc is unused.
	Pattern bool
	// Buckets are the upper bounds of a histogram family (nil otherwise).
	Buckets []float64

	desc *prometheus.Desc
}

// Gauge declares a gauge family.
func Gauge(name, help, source, versions string, labels ...string) *Metric {
	return newMetric(name, help, prometheus.GaugeValue, source, versions, labels)
}

// Counter declares a counter family.
func Counter(name, help, source, versions string, labels ...string) *Metric {
	return newMetric(name, help, prometheus.CounterValue, source, versions, labels)
}

// Histogram declares a histogram family with the given bucket upper bounds.
func Histogram(name, help, source, versions string, buckets []float64, labels ...string) *Metric {
	m := newMetric(name, help, prometheus.UntypedValue, source, versions, labels)
	m.Buckets = buckets
	return m
}

func newMetric(name, help string, t prometheus.ValueType, source, versions string, labels []string) *Metric {
	return &Metric{
		Name: name, Help: help, Type: t, Labels: labels, Source: source, Versions: versions,
		desc: prometheus.NewDesc(name, help, labels, nil),
	}
}

// Desc returns the family's descriptor.
func (m *Metric) Desc() *prometheus.Desc { return m.desc }

// Emit sends one sample.
func (m *Metric) Emit(ch chan<- prometheus.Metric, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(m.desc, m.Type, v, labels...)
}

// EmitHistogram sends one histogram sample: count observations summing to sum,
// with cumulative counts per upper bound in m.Buckets.
func (m *Metric) EmitHistogram(ch chan<- prometheus.Metric, count uint64, sum float64, cumulative []uint64, labels ...string) {
	b := make(map[float64]uint64, len(m.Buckets))
	for i, ub := range m.Buckets {
		b[ub] = cumulative[i]
	}
	ch <- prometheus.MustNewConstHistogram(m.desc, count, sum, b, labels...)
}

// TypeName is "gauge", "counter", "histogram" or "untyped".
func (m *Metric) TypeName() string {
	if m.Buckets != nil {
		return "histogram"
	}
	switch m.Type {
	case prometheus.GaugeValue:
		return "gauge"
	case prometheus.CounterValue:
		return "counter"
	}
	return "untyped"
}
