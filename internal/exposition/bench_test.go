package exposition_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// benchBlock is a table-shaped block: 24 families, objects rows.
func benchBlock(objects int) *exposition.Block {
	fams := make([]*metric.Metric, 24)
	for i := range fams {
		fams[i] = metric.Counter(fmt.Sprintf("bench_table_stat_%02d_total", i), "A per-table counter.", "bench", "13+", objLabels...)
	}
	b := exposition.NewBlock(objShape, fams...)
	vals := make([]float64, len(fams))
	for o := range objects {
		l := objShape.Labels("bench", "public", fmt.Sprintf("t%d", o))
		for i := range vals {
			vals[i] = float64(o*31 + i*7)
		}
		b.Add(l, vals...)
	}
	return b
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header               { return d.h }
func (d discard) WriteHeader(int)                   {}
func (d discard) Write(p []byte) (int, error)       { return len(p), nil }
func (d discard) WriteString(s string) (int, error) { return len(s), nil }

// BenchmarkServe compares one scrape of 10 000 table-shaped objects (240 000
// series) served the client_golang way (a const metric per series, a
// registry, promhttp) and through Serve, per format, without and with two
// constant labels (one sorting before the objects' labels, one among them),
// as a multi-cluster setup sets them. client_golang gets the labels through
// prometheus.WrapRegistererWith. The block is built once, as the collectors
// keep labels between scrapes; its rows are what a scrape reads.
func BenchmarkServe(b *testing.B) {
	block := benchBlock(10_000)
	formats := []struct{ name, accept string }{
		{"text", ""},
		{"openmetrics", "application/openmetrics-text;version=1.0.0"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
	}
	labelSets := []map[string]string{nil, {"cluster": "orders-eu-1", "env": "prod"}}
	opts := promhttp.HandlerOpts{EnableOpenMetrics: true}
	for _, f := range formats {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if f.accept != "" {
			req.Header.Set("Accept", f.accept)
		}
		for _, labels := range labelSets {
			name := fmt.Sprintf("format=%s/labels=%d", f.name, len(labels))
			b.Run("path=client_golang/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					reg := prometheus.NewRegistry()
					prometheus.WrapRegistererWith(labels, reg).MustRegister(collectorFunc(block.Expand))
					promhttp.HandlerFor(reg, opts).ServeHTTP(discard{http.Header{}}, req)
				}
			})
			cl := exposition.NewConstLabels(labels)
			b.Run("path=blocks/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					bs := &exposition.Blocks{}
					bs.Add(block)
					exposition.Serve(discard{http.Header{}}, req, prometheus.NewRegistry(), bs, cl, opts)
				}
			})
		}
	}
}
