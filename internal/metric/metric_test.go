package metric

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestEmitHistogramNativeCarriesBothForms(t *testing.T) {
	m := Histogram("test_seconds", "Test.", "test", "13+", []float64{0.1, 0.5}, "db")
	ch := make(chan prometheus.Metric, 1)
	// 3 observations of 0.05 s, 2 of 0.3 s, 1 of 2 s; native schema 0
	// (bounds ..., 0.0625, 0.125, 0.25, 0.5, 1, 2, ...).
	m.EmitHistogramNative(ch, 6, 2.75, []uint64{3, 5}, Native{
		Schema: 0, ZeroThreshold: 0x1p-128, Positive: map[int]int64{-4: 3, -1: 2, 1: 1},
	}, "app")
	var out dto.Metric
	if err := (<-ch).Write(&out); err != nil {
		t.Fatal(err)
	}
	h := out.GetHistogram()
	if h.GetSampleCount() != 6 || h.GetSampleSum() != 2.75 {
		t.Fatalf("count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if b := h.GetBucket(); len(b) != 2 || b[0].GetUpperBound() != 0.1 || b[0].GetCumulativeCount() != 3 || b[1].GetCumulativeCount() != 5 {
		t.Fatalf("classic buckets %v", b)
	}
	if h.Schema == nil || h.GetSchema() != 0 || h.GetZeroThreshold() != 0x1p-128 {
		t.Fatalf("native schema %v zero threshold %v", h.Schema, h.GetZeroThreshold())
	}
	// Spans and deltas decode back to the buckets given.
	got := map[int]int64{}
	idx, count := 0, int64(0)
	deltas := h.GetPositiveDelta()
	for _, s := range h.GetPositiveSpan() {
		idx += int(s.GetOffset())
		for j := 0; j < int(s.GetLength()); j++ {
			count += deltas[0]
			deltas = deltas[1:]
			if count != 0 { // short gaps are spanned with empty buckets
				got[idx] = count
			}
			idx++
		}
	}
	if len(got) != 3 || got[-4] != 3 || got[-1] != 2 || got[1] != 1 {
		t.Fatalf("native buckets %v", got)
	}
	if out.GetHistogram().CreatedTimestamp != nil {
		t.Fatalf("created timestamp %v, want none", out.GetHistogram().CreatedTimestamp)
	}

	// The text format shows the classic buckets only.
	out.Label = []*dto.LabelPair{{Name: new("db"), Value: new("app")}}
	mf := &dto.MetricFamily{Name: new("test_seconds"), Help: new("Test."), Type: dto.MetricType_HISTOGRAM.Enum(), Metric: []*dto.Metric{&out}}
	var buf bytes.Buffer
	if err := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(mf); err != nil {
		t.Fatal(err)
	}
	want := `test_seconds_bucket{db="app",le="0.1"} 3
test_seconds_bucket{db="app",le="0.5"} 5
test_seconds_bucket{db="app",le="+Inf"} 6
test_seconds_sum{db="app"} 2.75
test_seconds_count{db="app"} 6
`
	if !strings.HasSuffix(buf.String(), want) {
		t.Fatalf("text format:\n%s\nwant it to end with\n%s", buf.String(), want)
	}
}

func TestEmitHistogramNativeExemplar(t *testing.T) {
	m := Histogram("test_seconds", "Test.", "test", "13+", []float64{0.1, 0.5}, "db")
	ch := make(chan prometheus.Metric, 1)
	m.EmitHistogramNative(ch, 2, 0.6, []uint64{0, 2}, Native{
		Schema: 0, ZeroThreshold: 0x1p-128, Positive: map[int]int64{-1: 2},
		Exemplars: []prometheus.Exemplar{{Value: 0.3, Labels: prometheus.Labels{"queryid": "42"}}},
	}, "app")
	var out dto.Metric
	if err := (<-ch).Write(&out); err != nil {
		t.Fatal(err)
	}
	h := out.GetHistogram()
	if ex := h.GetExemplars(); len(ex) != 1 || ex[0].GetValue() != 0.3 || ex[0].GetLabel()[0].GetValue() != "42" || ex[0].GetTimestamp() == nil {
		t.Fatalf("native exemplars %v", ex)
	}
	if b := h.GetBucket(); b[0].GetExemplar() != nil || b[1].GetExemplar().GetValue() != 0.3 {
		t.Fatalf("classic exemplars %v", b)
	}
}

// A label value that is not UTF-8 (a name from a SQL_ASCII database) is
// emitted with U+FFFD in place of the bad bytes, in every form, instead of
// client_golang's panic.
func TestEmitReplacesInvalidUTF8InLabels(t *testing.T) {
	g := Gauge("test_value", "Test.", "test", "13+", "datname", "usename")
	h := Histogram("test_seconds", "Test.", "test", "13+", []float64{0.1}, "datname")
	ch := make(chan prometheus.Metric, 3)
	labels := []string{"ok", "caf\xe9"}
	g.Emit(ch, 1, labels...)
	h.EmitHistogram(ch, 1, 0.05, []uint64{1}, "caf\xe9")
	h.EmitHistogramNative(ch, 1, 0.05, []uint64{1}, Native{Schema: 0, ZeroThreshold: 0x1p-128, Positive: map[int]int64{-5: 1}}, "x\xff\xfey")
	if labels[1] != "caf\xe9" {
		t.Errorf("the caller's label slice was changed: %q", labels)
	}
	want := []map[string]string{
		{"datname": "ok", "usename": "caf\uFFFD"},
		{"datname": "caf\uFFFD"},
		{"datname": "x\uFFFDy"},
	}
	for i, w := range want {
		var out dto.Metric
		if err := (<-ch).Write(&out); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, lp := range out.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		if len(got) != len(w) {
			t.Errorf("series %d: labels %q, want %q", i, got, w)
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("series %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
	}
}
