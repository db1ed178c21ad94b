package exposition_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	objLabels = []string{"datname", "schemaname", "relname"}
	objScans  = metric.Counter("test_object_scans_total", "Scans, with a \\ backslash and a\nnewline in the help.", "test", "13+", objLabels...)
	objSize   = metric.Gauge("test_object_size_bytes", "Size.", "test", "13+", objLabels...)
	objSeen   = metric.Gauge("test_object_seen_timestamp_seconds", "Only some objects have it.", "test", "13+", objLabels...)
	objShape  = exposition.NewShape(objLabels...)
	// Families served the usual way, named to fall between and around the
	// block families.
	plainA = metric.Gauge("test_a", "Before every block family.", "test", "13+", "datname")
	plainM = metric.Counter("test_object_scans_a_total", "Between two block families.", "test", "13+")
	plainZ = metric.Gauge("test_z", "After them.", "test", "13+")
)

// blocks makes what two databases' collectors would hand over: object names
// that need escaping or are not valid UTF-8, values that format specially,
// rows out of order, a block with no rows, and a second database whose
// names sort before the first's so that the blocks must be merged.
func blocks() []*exposition.Block {
	values := []float64{0, 1, -1, 1.5, 1e21, 123456789, math.Inf(1), math.Inf(-1), math.NaN(), math.Copysign(0, -1), 0.1}
	names := []string{"plain", `quote"d`, `back\slash`, "new\nline", "ünïcode", "bad\xffbyte", "", "b", "a"}
	var out []*exposition.Block
	for d, db := range []string{"zdb", "adb"} {
		b := exposition.NewBlock(objShape, objScans, objSize)
		seen := exposition.NewBlock(objShape, objSeen)
		for i, n := range names {
			l := objShape.Labels(db, "s"+n, n)
			b.Add(l, values[(i+d)%len(values)], float64(i*1000+d))
			if i%2 == 0 {
				seen.Add(l, float64(1_700_000_000+i))
			}
		}
		out = append(out, b, seen, exposition.NewBlock(objShape, objScans))
	}
	return out
}

func plain(ch chan<- prometheus.Metric) {
	plainA.Emit(ch, 3, "x")
	plainA.Emit(ch, 4, "a")
	plainM.Emit(ch, 5)
	plainZ.Emit(ch, 0.25)
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

// reference answers with client_golang alone: every block expanded into
// const metrics, gathered by a registry, served by promhttp.
func reference(opts promhttp.HandlerOpts) http.Handler {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
		plain(ch)
		for _, b := range blocks() {
			b.Expand(ch)
		}
	}))
	return promhttp.HandlerFor(reg, opts)
}

// fast answers through Serve, with the blocks handed over while gathering.
func fast(opts promhttp.HandlerOpts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bs := &exposition.Blocks{}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
			plain(ch)
			for _, b := range blocks() {
				bs.Add(b)
			}
		}))
		exposition.Serve(w, r, reg, bs, opts)
	})
}

func get(t *testing.T, h http.Handler, accept, encoding string) (http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("answered %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return rec.Header(), body
}

// TestServeMatchesClientGolang: for the same data, Serve answers every
// format client_golang negotiates with the same bytes and headers as
// promhttp does with the blocks expanded into const metrics.
func TestServeMatchesClientGolang(t *testing.T) {
	cases := []struct {
		name, accept, encoding string
		openMetrics            bool
		formats                []expfmt.Format
		chunk                  int
	}{
		{name: "text, no Accept", accept: ""},
		{name: "text 0.0.4", accept: "text/plain;version=0.0.4"},
		{name: "text 1.0.0 utf-8", accept: "text/plain;version=1.0.0;escaping=allow-utf-8"},
		{name: "text gzip", accept: "text/plain;version=0.0.4", encoding: "gzip"},
		{name: "protobuf", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"},
		{name: "protobuf in chunks of 4 series", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", chunk: 4},
		{name: "protobuf, dots escaping", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=dots"},
		{name: "text only", accept: "application/openmetrics-text;version=1.0.0", formats: []expfmt.Format{expfmt.FmtText}},
		{name: "protobuf text", accept: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"},
		{name: "OpenMetrics when enabled", accept: "application/openmetrics-text;version=1.0.0", openMetrics: true},
		{name: "OpenMetrics when disabled", accept: "application/openmetrics-text;version=1.0.0"},
		{name: "Prometheus 3 default Accept", accept: "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1", encoding: "gzip", openMetrics: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.chunk > 0 {
				defer exposition.SetProtoChunk(c.chunk)()
			}
			opts := promhttp.HandlerOpts{EnableOpenMetrics: c.openMetrics, AcceptedFormats: c.formats}
			wantHdr, want := get(t, reference(opts), c.accept, c.encoding)
			gotHdr, got := get(t, fast(opts), c.accept, c.encoding)
			for _, h := range []string{"Content-Type", "Content-Encoding", "Vary"} {
				if g, w := gotHdr.Values(h), wantHdr.Values(h); !equalStrings(g, w) {
					t.Errorf("%s: got %q, client_golang gives %q", h, g, w)
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("body differs from client_golang's\n--- got\n%s\n--- want\n%s", got, want)
			}
			if len(want) < 1000 {
				t.Fatalf("client_golang's answer is too short to compare: %q", want)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestBlockInPlainRegistry: a block that reaches a registry unexpanded is
// an error there, not silently lost series.
func TestBlockInPlainRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) { ch <- blocks()[0] }))
	if _, err := reg.Gather(); err == nil {
		t.Fatal("a registry gathered a block without an error")
	}
}

// TestLabelCache: labels are kept while asked for, made again when an
// object's values change, and forgotten one scrape after they were last
// asked for.
func TestLabelCache(t *testing.T) {
	c := exposition.NewLabelCache[int](objShape)
	a := c.Get(1, "db", "s", "t")
	c.Done()
	if c.Get(1, "db", "s", "t") != a {
		t.Error("labels asked for again were made again")
	}
	renamed := c.Get(1, "db", "s", "t2")
	if renamed == a || renamed.Values()[2] != "t2" {
		t.Errorf("a renamed object kept its old labels: %q", renamed.Values())
	}
	c.Done()
	c.Done() // a scrape that did not ask for object 1
	if c.Get(1, "db", "s", "t2") == renamed {
		t.Error("labels not asked for during a scrape were kept")
	}
}
