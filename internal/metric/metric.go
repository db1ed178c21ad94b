// Package metric declares metric families once, with what docs/metrics.md says
// about them, and emits their samples as const metrics. It imports nothing of
// this module, so every part of the exporter and the receiver can use it.
package metric

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
	ch <- prometheus.MustNewConstMetric(m.desc, m.Type, v, validUTF8(labels)...)
}

// LabelValue is v as a label value: what is not UTF-8 becomes U+FFFD. A
// database or role name made in a SQL_ASCII database reaches every session
// unconverted (the shared catalogs hold it as it was written), and
// client_golang refuses, and Prometheus drops the scrape of, such a value.
// Every path that writes label values (Emit here, internal/exposition's
// blocks) goes through it, so both give the same series.
func LabelValue(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	return strings.ToValidUTF8(v, "\uFFFD")
}

// validUTF8 is labels with LabelValue applied, copied only when one changes.
func validUTF8(labels []string) []string {
	for i, v := range labels {
		if !utf8.ValidString(v) {
			out := slices.Clone(labels)
			for j := i; j < len(out); j++ {
				out[j] = LabelValue(out[j])
			}
			return out
		}
	}
	return labels
}

// EmitHistogram sends one histogram sample: count observations summing to sum,
// with cumulative counts per upper bound in m.Buckets.
func (m *Metric) EmitHistogram(ch chan<- prometheus.Metric, count uint64, sum float64, cumulative []uint64, labels ...string) {
	ch <- m.classic(count, sum, cumulative, labels)
}

func (m *Metric) classic(count uint64, sum float64, cumulative []uint64, labels []string) prometheus.Metric {
	b := make(map[float64]uint64, len(m.Buckets))
	for i, ub := range m.Buckets {
		b[ub] = cumulative[i]
	}
	return prometheus.MustNewConstHistogram(m.desc, count, sum, b, validUTF8(labels)...)
}

// Native is the native (exponential) form of one histogram sample: the
// schema, the zero bucket and the count per positive bucket index (index 0 is
// the bucket with upper bound 1; see the Prometheus native histogram format).
type Native struct {
	Schema        int32
	ZeroThreshold float64
	ZeroCount     uint64
	Positive      map[int]int64
	// Exemplars are attached to the classic bucket and the native
	// histogram they fall in (OpenMetrics and protobuf scrapes show them).
	Exemplars []prometheus.Exemplar
}

// EmitHistogramNative sends one histogram sample carrying both forms: the
// classic buckets (cumulative counts per upper bound in m.Buckets) and the
// native buckets in n. The text formats show the classic buckets only; a
// protobuf scrape gets both, and Prometheus keeps whichever it is told to.
func (m *Metric) EmitHistogramNative(ch chan<- prometheus.Metric, count uint64, sum float64, cumulative []uint64, n Native, labels ...string) {
	classic := m.classic(count, sum, cumulative, labels)
	native := prometheus.MustNewConstNativeHistogram(m.desc, count, sum, n.Positive, nil, n.ZeroCount, n.Schema, n.ZeroThreshold, time.Time{}, validUTF8(labels)...)
	var out prometheus.Metric = bothHistogram{classic: classic, native: native}
	if len(n.Exemplars) > 0 {
		out = prometheus.MustNewMetricWithExemplars(out, n.Exemplars...)
	}
	ch <- out
}

// bothHistogram writes one dto.Histogram holding a classic and a native
// histogram of the same observations.
type bothHistogram struct{ classic, native prometheus.Metric }

func (h bothHistogram) Desc() *prometheus.Desc { return h.classic.Desc() }

func (h bothHistogram) Write(out *dto.Metric) error {
	if err := h.native.Write(out); err != nil {
		return err
	}
	var c dto.Metric
	if err := h.classic.Write(&c); err != nil {
		return err
	}
	out.Histogram.Bucket = c.Histogram.Bucket
	// No creation time is known (the const form would say year 1).
	out.Histogram.CreatedTimestamp = nil
	return nil
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
