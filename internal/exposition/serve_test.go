package exposition_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
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

// constLabels are constant labels whose names sort before, between and
// after the objects' own (datname, relname, schemaname) and whose values
// need escaping or are not ASCII.
var constLabels = map[string]string{
	"cluster": `orders "eu" \ primary`,
	"env":     "prod\nnext line",
	"role":    "primary",
	"zone":    "zürich \"ü\" \\",
}

// reference answers with client_golang alone: every block expanded into
// const metrics, gathered by a registry (through which the collector is
// registered with the constant labels, if any), served by promhttp.
func reference(opts promhttp.HandlerOpts, labels map[string]string) http.Handler {
	reg := prometheus.NewPedanticRegistry()
	prometheus.WrapRegistererWith(labels, reg).MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
		plain(ch)
		for _, b := range blocks() {
			b.Expand(ch)
		}
	}))
	return promhttp.HandlerFor(reg, opts)
}

// fast answers through Serve, with the blocks handed over while gathering.
func fast(opts promhttp.HandlerOpts, labels map[string]string) http.Handler {
	cl := exposition.NewConstLabels(labels)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bs := &exposition.Blocks{}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(collectorFunc(func(ch chan<- prometheus.Metric) {
			plain(ch)
			for _, b := range blocks() {
				bs.Add(b)
			}
		}))
		exposition.Serve(w, r, reg, bs, cl, opts)
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
// promhttp does with the blocks expanded into const metrics, with and
// without constant labels.
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
	for _, labels := range []map[string]string{nil, constLabels} {
		for _, c := range cases {
			name := c.name
			if labels != nil {
				name += ", constant labels"
			}
			t.Run(name, func(t *testing.T) {
				serveMatches(t, c.accept, c.encoding, c.chunk, labels, promhttp.HandlerOpts{EnableOpenMetrics: c.openMetrics, AcceptedFormats: c.formats})
			})
		}
	}
}

func serveMatches(t *testing.T, accept, encoding string, chunk int, labels map[string]string, opts promhttp.HandlerOpts) {
	if chunk > 0 {
		defer exposition.SetProtoChunk(chunk)()
	}
	wantHdr, want := get(t, reference(opts, labels), accept, encoding)
	gotHdr, got := get(t, fast(opts, labels), accept, encoding)
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
}

// A caller that refuses gzip gets the text uncompressed, and nothing goes to
// the error log: the header is the caller's to choose, the log is not.
func TestRefusedCompressionServesIdentityQuietly(t *testing.T) {
	for _, enc := range []string{"gzip;q=0", "gzip;q=0, identity;q=0", "*;q=0", "br", "gzip;q=x"} {
		var logged []string
		opts := promhttp.HandlerOpts{ErrorLog: logFunc(func(v ...any) { logged = append(logged, fmt.Sprint(v...)) })}
		hdr, body := get(t, fast(opts, nil), "text/plain;version=0.0.4", enc)
		if ce := hdr.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s: Content-Encoding %q, want none", enc, ce)
		}
		if !bytes.Contains(body, []byte("\n")) || bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: body is not plain text: %.40q", enc, body)
		}
		if len(logged) > 0 {
			t.Errorf("%s: logged %q", enc, logged)
		}
	}
}

type logFunc func(v ...any)

func (f logFunc) Println(v ...any) { f(v...) }

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

// TestConstantLabelNamedLikeObjectLabel: a constant label that a series
// already has leaves the series' own value, on block and gathered series
// alike, in every format.
func TestConstantLabelNamedLikeObjectLabel(t *testing.T) {
	h := fast(promhttp.HandlerOpts{}, map[string]string{"datname": "const", "env": "x"})
	for accept, format := range map[string]expfmt.Format{
		"": expfmt.NewFormat(expfmt.TypeTextPlain),
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited": expfmt.NewFormat(expfmt.TypeProtoDelim),
	} {
		_, body := get(t, h, accept, "")
		mfs, err := decode(bytes.NewReader(body), format)
		if err != nil {
			t.Fatalf("Accept %q: %v", accept, err)
		}
		series := 0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				series++
				seen := map[string]string{}
				for _, lp := range m.GetLabel() {
					if _, dup := seen[lp.GetName()]; dup {
						t.Fatalf("Accept %q: %s has label %s twice", accept, mf.GetName(), lp.GetName())
					}
					seen[lp.GetName()] = lp.GetValue()
				}
				if seen["env"] != "x" {
					t.Errorf("Accept %q: %s%v has no env=\"x\"", accept, mf.GetName(), seen)
				}
				own := mf.GetName() == "test_a" || strings.HasPrefix(mf.GetName(), "test_object_") && mf.GetName() != "test_object_scans_a_total"
				if own == (seen["datname"] == "const") {
					t.Errorf("Accept %q: %s%v: datname from the wrong place", accept, mf.GetName(), seen)
				}
			}
		}
		if series < 40 {
			t.Fatalf("Accept %q: only %d series", accept, series)
		}
	}
}

// decode reads every family of an exposition.
func decode(r io.Reader, format expfmt.Format) ([]*dto.MetricFamily, error) {
	dec := expfmt.NewDecoder(r, format)
	var out []*dto.MetricFamily
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, mf)
	}
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
