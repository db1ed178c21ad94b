// Package promtest starts a real Prometheus for tests: in a temporary
// directory, on a free port, with its TSDB in that directory, scraping the
// given targets and evaluating the given rule files. It also reads
// Prometheus's HTTP API (alerts, instant queries) and waits for conditions on
// it. Stacks lists the installs the tests run against: Debian's Prometheus
// 2.42 and Alertmanager 0.25, and the current releases built by
// scripts/install-deps.sh.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Options describe what Prometheus scrapes and evaluates.
type Options struct {
	// Targets maps a job name to host:port addresses scraped at /metrics.
	Targets map[string][]string
	// RuleFiles are paths or globs of rule files.
	RuleFiles []string
	// ProbeJobs maps a job name to a job that scrapes an exporter's /probe
	// once per target, as docs/operations.md shows.
	ProbeJobs map[string]ProbeJob
	// ScrapeInterval and EvaluationInterval default to 1s; ScrapeTimeout
	// defaults to ScrapeInterval.
	ScrapeInterval     time.Duration
	ScrapeTimeout      time.Duration
	EvaluationInterval time.Duration
	// ExternalLabels are added to every series and alert.
	ExternalLabels map[string]string
	// TargetLabels are added to every scraped target, so queries see them.
	TargetLabels map[string]string
	// NativeHistograms has every job scrape native histograms (protobuf)
	// and keep the classic buckets too. Prometheus 3.8 and later only.
	NativeHistograms bool
}

// ProbeJob scrapes Exporter (host:port) at /probe with the target parameter
// set to each of Targets, which is also the series' instance label, and
// Params added to every scrape.
type ProbeJob struct {
	Exporter string
	Targets  []string
	Params   map[string][]string
}

// Server is a running Prometheus.
type Server struct {
	URL string
	// Stack is the install it runs from.
	Stack   Stack
	dir     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start runs Debian's Prometheus for the test (Debian().Start).
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	return Debian().Start(tb, opts)
}

// Start runs the stack's Prometheus for the test and stops it when the test
// ends. A missing binary skips the test (fails it with CI=true); -short
// skips it.
func (st Stack) Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin := st.Prometheus(tb)
	if opts.ScrapeInterval == 0 {
		opts.ScrapeInterval = time.Second
	}
	if opts.EvaluationInterval == 0 {
		opts.EvaluationInterval = time.Second
	}
	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, configYAML(opts), 0o644); err != nil {
		tb.Fatal(err)
	}
	var s *Server
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if s, err = start(bin, dir, cfgPath); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("promtest: %v", err)
	}
	s.Stack = st
	tb.Cleanup(func() {
		s.stop()
		if tb.Failed() {
			tb.Logf("promtest: Prometheus %s log, last lines:\n%s", st.PrometheusVersion(), s.LogTail(30))
		}
	})
	return s
}

func configYAML(o Options) []byte {
	var b bytes.Buffer
	if o.ScrapeTimeout == 0 {
		o.ScrapeTimeout = o.ScrapeInterval
	}
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		o.ScrapeInterval, o.ScrapeTimeout, o.EvaluationInterval)
	if len(o.ExternalLabels) > 0 {
		b.WriteString("  external_labels:\n")
		for _, k := range sortedKeys(o.ExternalLabels) {
			fmt.Fprintf(&b, "    %s: %q\n", k, o.ExternalLabels[k])
		}
	}
	if len(o.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range o.RuleFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	b.WriteString("scrape_configs:\n")
	for _, job := range sortedKeys(o.Targets) {
		fmt.Fprintf(&b, "  - job_name: %q\n", job)
		if o.NativeHistograms {
			b.WriteString("    scrape_native_histograms: true\n    always_scrape_classic_histograms: true\n")
		}
		b.WriteString("    static_configs:\n      - targets:\n")
		for _, t := range o.Targets[job] {
			fmt.Fprintf(&b, "          - %q\n", t)
		}
		if len(o.TargetLabels) > 0 {
			b.WriteString("        labels:\n")
			for _, k := range sortedKeys(o.TargetLabels) {
				fmt.Fprintf(&b, "          %s: %q\n", k, o.TargetLabels[k])
			}
		}
	}
	for _, job := range sortedKeys(o.ProbeJobs) {
		j := o.ProbeJobs[job]
		fmt.Fprintf(&b, "  - job_name: %q\n    metrics_path: /probe\n", job)
		if len(j.Params) > 0 {
			b.WriteString("    params:\n")
			for _, k := range sortedKeys(j.Params) {
				fmt.Fprintf(&b, "      %s:\n", k)
				for _, v := range j.Params[k] {
					fmt.Fprintf(&b, "        - %q\n", v)
				}
			}
		}
		b.WriteString("    static_configs:\n      - targets:\n")
		for _, t := range j.Targets {
			fmt.Fprintf(&b, "          - %q\n", t)
		}
		fmt.Fprintf(&b, "    relabel_configs:\n"+
			"      - source_labels: [__address__]\n        target_label: __param_target\n"+
			"      - source_labels: [__param_target]\n        target_label: instance\n"+
			"      - target_label: __address__\n        replacement: %q\n", j.Exporter)
	}
	return b.Bytes()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, dir, cfgPath string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.enable-lifecycle",
		"--log.level=info",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("cannot start %s: %w", bin, err)
	}
	s := &Server{URL: "http://" + addr, dir: dir, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("prometheus exited while starting:\n%s", s.LogTail(20))
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
	return nil, fmt.Errorf("prometheus was not ready within 30s:\n%s", s.LogTail(20))
}

func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// LogTail returns the last n lines of Prometheus's log.
func (s *Server) LogTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Alert is one entry of /api/v1/alerts.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending or firing
	Value       string            `json:"value"`
	ActiveAt    time.Time         `json:"activeAt"`
}

func (a Alert) String() string {
	return fmt.Sprintf("%s %s %v value %s", a.Labels["alertname"], a.State, a.Labels, a.Value)
}

// Alerts returns the pending and firing alerts.
func (s *Server) Alerts(ctx context.Context) ([]Alert, error) {
	var out struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := s.get(ctx, "/api/v1/alerts", nil, &out); err != nil {
		return nil, err
	}
	return out.Alerts, nil
}

// Sample is one element of an instant vector.
type Sample struct {
	Metric map[string]string
	Value  string
}

// Query runs an instant query now.
func (s *Server) Query(ctx context.Context, q string) ([]Sample, error) {
	return s.QueryAt(ctx, q, time.Time{})
}

// QueryAt runs an instant query at t (now when t is zero).
func (s *Server) QueryAt(ctx context.Context, q string, t time.Time) ([]Sample, error) {
	params := url.Values{"query": {q}}
	if !t.IsZero() {
		params.Set("time", unixSeconds(t))
	}
	var out struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query", params, &out); err != nil {
		return nil, err
	}
	if out.ResultType != "vector" {
		return nil, fmt.Errorf("query %q gave a %s, not a vector", q, out.ResultType)
	}
	var res []Sample
	for _, r := range out.Result {
		v, _ := r.Value[1].(string)
		res = append(res, Sample{Metric: r.Metric, Value: v})
	}
	return res, nil
}

func (s *Server) get(ctx context.Context, path string, q url.Values, data any) error {
	u := s.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("GET %s: %s", path, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// Find returns the alerts named name in state (any state if "") whose labels
// include want.
func Find(alerts []Alert, name, state string, want map[string]string) []Alert {
	var out []Alert
next:
	for _, a := range alerts {
		if a.Labels["alertname"] != name || (state != "" && a.State != state) {
			continue
		}
		for k, v := range want {
			if a.Labels[k] != v {
				continue next
			}
		}
		out = append(out, a)
	}
	return out
}

// ErrTimeout is returned by WaitAlerts when the condition did not hold in time.
var ErrTimeout = errors.New("condition not met in time")

// WaitAlerts polls the alerts until cond holds or timeout passes, and returns
// the last alerts seen.
func (s *Server) WaitAlerts(ctx context.Context, timeout time.Duration, cond func([]Alert) bool) ([]Alert, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last []Alert
	for {
		alerts, err := s.Alerts(ctx)
		if err == nil {
			last = alerts
			if cond(alerts) {
				return alerts, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ErrTimeout
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// QueryRange evaluates q from start to end every step; each returned sample
// is one series, with the value of its last step.
func (s *Server) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]Sample, error) {
	var out struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	params := url.Values{"query": {q}, "start": {unixSeconds(start)}, "end": {unixSeconds(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	if err := s.get(ctx, "/api/v1/query_range", params, &out); err != nil {
		return nil, err
	}
	var res []Sample
	for _, r := range out.Result {
		var v string
		if n := len(r.Values); n > 0 {
			v, _ = r.Values[n-1][1].(string)
		}
		res = append(res, Sample{Metric: r.Metric, Value: v})
	}
	return res, nil
}

// RangeValues runs q, which must give a range vector (such as x[5m]), at t
// and returns the value of every sample of every series.
func (s *Server) RangeValues(ctx context.Context, q string, t time.Time) ([]float64, error) {
	var out struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query", url.Values{"query": {q}, "time": {unixSeconds(t)}}, &out); err != nil {
		return nil, err
	}
	if out.ResultType != "matrix" {
		return nil, fmt.Errorf("query %q gave a %s, not a matrix", q, out.ResultType)
	}
	var res []float64
	for _, r := range out.Result {
		for _, v := range r.Values {
			text, _ := v[1].(string)
			f, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, fmt.Errorf("query %q: sample value %v: %w", q, v[1], err)
			}
			res = append(res, f)
		}
	}
	return res, nil
}

// WaitFor polls an instant query until it returns a series or ctx ends.
func (s *Server) WaitFor(ctx context.Context, q string) error {
	for {
		res, err := s.Query(ctx, q)
		if err == nil && len(res) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s returned nothing before the deadline (last error: %v); prometheus log:\n%s", q, err, s.LogTail(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}
