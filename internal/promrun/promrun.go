// Package promrun starts a real Prometheus server for tests: Debian's
// prometheus binary in a temporary directory on a free loopback port,
// scraping the given targets, and queries it through its HTTP API.
package promrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/pgtest"
)

// Binary is the Prometheus server the tests start.
const Binary = "/usr/bin/prometheus"

// Options say what Prometheus scrapes and evaluates.
type Options struct {
	Job            string            // job label of the scrape; "postgres" if empty
	Targets        []string          // host:port, scraped at /metrics
	Labels         map[string]string // extra labels on every target
	ScrapeInterval time.Duration     // also the rule evaluation interval; 1s if zero
	RuleFiles      []string          // rule files to load, absolute paths
}

// Server is a running Prometheus.
type Server struct {
	URL string

	cmd  *exec.Cmd
	dir  string
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// Start runs Prometheus until the test ends. A missing binary skips the test
// (fails it with CI=true).
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if _, err := os.Stat(Binary); err != nil {
		pgtest.Skip(tb, "Prometheus ("+Binary+")", "apt-get install prometheus (scripts/install-deps.sh)")
	}
	if o.Job == "" {
		o.Job = "postgres"
	}
	if o.ScrapeInterval == 0 {
		o.ScrapeInterval = time.Second
	}
	dir := tb.TempDir()
	cfg, err := config(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), cfg, 0o644); err != nil {
		tb.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(dir)
		if err == nil {
			tb.Cleanup(s.stop)
			return s
		}
		lastErr = err
	}
	tb.Fatalf("cannot start Prometheus: %v", lastErr)
	return nil
}

func config(o Options) ([]byte, error) {
	interval := o.ScrapeInterval.String()
	static := map[string]any{"targets": o.Targets}
	if len(o.Labels) > 0 {
		static["labels"] = o.Labels
	}
	doc := map[string]any{
		"global": map[string]any{"scrape_interval": interval, "evaluation_interval": interval,
			"scrape_timeout": interval},
		"scrape_configs": []any{map[string]any{"job_name": o.Job, "static_configs": []any{static}}},
	}
	if len(o.RuleFiles) > 0 {
		doc["rule_files"] = o.RuleFiles
	}
	return yaml.Marshal(doc)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{URL: "http://" + addr, dir: dir, done: make(chan struct{})}
	data := filepath.Join(dir, "data-"+strconv.Itoa(port))
	s.cmd = exec.Command(Binary,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
		"--log.level=warn")
	s.cmd.Stdout, s.cmd.Stderr = (*lockedWriter)(s), (*lockedWriter)(s)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("prometheus exited: %s", s.Log())
		default:
		}
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("prometheus not ready after 30s: %s", s.Log())
}

type lockedWriter Server

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.Write(p)
}

// Log returns what Prometheus wrote so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *Server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Series is one series of a query's answer.
type Series struct {
	Labels  map[string]string
	Samples int
}

type apiAnswer struct {
	Status    string `json:"status"`
	Error     string `json:"error"`
	ErrorType string `json:"errorType"`
	Data      struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func (s *Server) get(ctx context.Context, path string, params url.Values) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+path, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var a apiAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("%s: cannot decode the answer (HTTP %d): %w", path, resp.StatusCode, err)
	}
	if a.Status != "success" {
		return nil, errors.New(a.ErrorType + ": " + a.Error)
	}
	var out []Series
	for _, r := range a.Data.Result {
		n := len(r.Values)
		if r.Value != nil {
			n = 1
		}
		out = append(out, Series{Labels: r.Metric, Samples: n})
	}
	return out, nil
}

// Query evaluates expr at t.
func (s *Server) Query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	return s.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {ts(t)}})
}

// QueryRange evaluates expr from start to end every step.
func (s *Server) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	return s.get(ctx, "/api/v1/query_range", url.Values{"query": {expr}, "start": {ts(start)}, "end": {ts(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
}

// WaitFor polls expr until it returns a series or ctx ends.
func (s *Server) WaitFor(ctx context.Context, expr string) error {
	for {
		res, err := s.Query(ctx, expr, time.Now())
		if err == nil && len(res) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s returned nothing before the deadline (last error: %v); prometheus log: %s", expr, err, s.Log())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func ts(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }
