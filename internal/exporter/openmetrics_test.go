package exporter_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// prometheusAccept is the Accept header Prometheus 3 sends on a scrape with
// its default scrape protocols.
const prometheusAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6," +
	"application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4," +
	"text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

func fetch(t *testing.T, url, accept string) (contentType, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return resp.Header.Get("Content-Type"), string(b)
}

// /metrics and /probe answer in OpenMetrics when the scraper asks as
// Prometheus does, and in the classic text format otherwise; that one is
// clean for promtool check metrics.
func TestOpenMetricsNegotiated(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	h := start(t, "targets:\n  - name: db\n    dsn: "+s.SuperuserDSN("")+"\n", s.SuperuserDSN(""))
	for _, path := range []string{"/metrics", "/probe?target=db"} {
		ct, body := fetch(t, h.http.URL+path, prometheusAccept)
		if !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
			t.Errorf("%s with Prometheus's Accept header: Content-Type %q, want OpenMetrics 1.0.0", path, ct)
		}
		if !strings.HasSuffix(body, "# EOF\n") || !strings.Contains(body, "\npg_up 1.0\n") {
			t.Errorf("%s: not an OpenMetrics exposition with pg_up 1.0:\n%.500s", path, body)
		}
		// OpenMetrics counters are declared without _total in TYPE lines.
		if !strings.Contains(body, "# TYPE pg_stat_database_xact_commit counter\n") {
			t.Errorf("%s: counter family not in OpenMetrics form", path)
		}

		ct, text := fetch(t, h.http.URL+path, "")
		if !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("%s without an Accept header: Content-Type %q, want the text format", path, ct)
		}
		promtoolCheck(t, path, text)
	}
	// No _created sample may appear in the classic format.
	_, text := fetch(t, h.http.URL+"/metrics", "")
	if strings.Contains(text, "_created{") || strings.Contains(text, "_created ") {
		t.Error("the text format carries _created samples")
	}
}

func promtoolCheck(t *testing.T, what, exposition string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		pgtest.Skip(t, "promtool", "apt-get install prometheus (scripts/install-deps.sh)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err == nil {
		return
	}
	// The pg_settings_ families are named after PostgreSQL's settings, which
	// the exporter does not choose: wal_summary_keep_time (17+) reads to the
	// linter as a metric named after the summary type. Only that finding is
	// let through, and only as a lint finding (exit status 3), never a
	// format error.
	var exit *exec.ExitError
	var other []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, "pg_settings_") && strings.Contains(line, "metric name should not include type") {
			continue
		}
		other = append(other, line)
	}
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || len(other) > 0 {
		t.Errorf("promtool check metrics on %s: %v\n%s", what, err, out.String())
	}
}
