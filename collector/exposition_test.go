package collector_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
)

type replay []prometheus.Metric

func (r replay) Describe(chan<- *prometheus.Desc) {}
func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}

// TestBlocksServeTheClientGolangSeries: one scrape of the per-object
// collectors on a real server, with every object reported, served two ways
// from the same data: through exposition.Serve (blocks written directly)
// and by promhttp with every block expanded into const metrics. Each format
// gives the same bytes, so the same families, help, types, labels and
// values; promtool finds nothing to say about the text.
func TestBlocksServeTheClientGolangSeries(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	ensureStatements(t, s)
	for _, db := range []string{"expo_a", "expo_b"} {
		makeFixtureDB(t, s, db,
			`CREATE SCHEMA "odd ""schema"""`,
			`CREATE TABLE "odd ""schema"""."we\ird
name" (id int PRIMARY KEY, v int)`,
			`CREATE TABLE plain (id int PRIMARY KEY, v int UNIQUE, w text)`,
			`CREATE INDEX plain_w ON plain (w)`,
			`INSERT INTO plain SELECT g, g, md5(g::text) FROM generate_series(1, 100) g`,
			`ANALYZE`)
		flushStats(t, s, db, "SELECT count(*) FROM plain WHERE v < 10")
	}
	cfg, err := config.Parse("test.yml", []byte("objects:\n  tables: {top_n: 100000}\n  indexes: {top_n: 100000}\n  statements: {top_n: 100000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables", "indexes", "statements")
	var plain replay
	blocks := &exposition.Blocks{}
	ch := make(chan prometheus.Metric)
	done := make(chan struct{})
	go func() {
		for m := range ch {
			plain = append(plain, m)
		}
		close(done)
	}()
	sctx, cancel := context.WithTimeout(ctx, sc.Timeout)
	sc.Scraper.ScrapeBlocks(sctx, sc.Target, nil, ch, blocks.Add)
	cancel()
	close(ch)
	<-done
	rows := 0
	for _, b := range blocks.List() {
		rows += b.Len()
	}
	if rows < 10 {
		t.Fatalf("the scrape handed over %d per-object rows", rows)
	}

	reference := func() http.Handler {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(plain, replayExpanded(blocks.List()))
		return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	}
	fast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(plain)
		exposition.Serve(w, r, reg, blocks, nil, promhttp.HandlerOpts{EnableOpenMetrics: true})
	})
	var text []byte
	for _, accept := range []string{"", "application/openmetrics-text;version=1.0.0",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"} {
		want, got := body(t, reference(), accept), body(t, fast, accept)
		if !bytes.Equal(got, want) {
			t.Errorf("Accept %q: Serve's answer (%d bytes) differs from client_golang's (%d bytes)", accept, len(got), len(want))
		}
		if accept == "" {
			text = got
		}
	}
	for _, want := range []string{`relname="we\\ird\nname",schemaname="odd \"schema\""`, `datname="expo_b",indexrelname="plain_w"`,
		"pg_stat_statements_top_calls_total{"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("the answer has no %s", want)
		}
	}
	promtoolCheck(t, text)
}

// replayExpanded sends the blocks as client_golang would have them.
type replayExpanded []*exposition.Block

func (r replayExpanded) Describe(chan<- *prometheus.Desc) {}
func (r replayExpanded) Collect(ch chan<- prometheus.Metric) {
	for _, b := range r {
		b.Expand(ch)
	}
}

func body(t *testing.T, h http.Handler, accept string) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("answered %d: %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// promtoolCheck runs promtool check metrics on a text exposition.
func promtoolCheck(t *testing.T, text []byte) {
	t.Helper()
	bin, err := osexec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found; run scripts/install-deps.sh")
		}
		t.Log("promtool not found (scripts/install-deps.sh installs it); not checked")
		return
	}
	cmd := osexec.Command(bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
