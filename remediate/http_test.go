package remediate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
)

// serveWithAuth serves r through exporter-toolkit with basic auth, as the
// remediate command does, and returns its base URL.
func serveWithAuth(t *testing.T, r *Receiver, reg *prometheus.Registry, user, pass string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webCfg, fmt.Appendf(nil, "basic_auth_users:\n  %s: %s\n", user, hash), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: r.Routes(reg, nil)}
	addrs := []string{l.Addr().String()}
	systemd := false
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &webCfg}
	go func() { _ = web.ServeMultiple([]net.Listener{l}, server, flags, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { server.Close() })
	return "http://" + l.Addr().String()
}

func TestWebhookStatusCodes(t *testing.T) {
	cfg, err := Parse("t.yml", []byte("webhook: {max_body_bytes: 4096}\n"+minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(cfg, Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	base := serveWithAuth(t, r, reg, "alertmanager", "s3cret")
	do := func(method, path string, body []byte, auth bool) (int, string) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		if auth {
			req.SetBasicAuth("alertmanager", "s3cret")
		}
		if method == "POST" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	unmapped := payloadOf(firing("alertname", "SomethingElse"))
	for _, tc := range []struct {
		name      string
		method    string
		path      string
		body      []byte
		auth      bool
		code      int
		inMessage string
	}{
		{"no credentials", "POST", WebhookPath, unmapped, false, 401, "Unauthorized"},
		{"malformed JSON", "POST", WebhookPath, []byte(`{"version":"4","alerts":[`), true, 400, "malformed JSON"},
		{"wrong version", "POST", WebhookPath, []byte(`{"version":"3","alerts":[]}`), true, 400, "version"},
		{"oversized", "POST", WebhookPath, bytes.Repeat([]byte(" "), 5000), true, 413, "max_body_bytes"},
		{"GET", "GET", WebhookPath, nil, true, 405, "POST"},
		{"accepted", "POST", WebhookPath, unmapped, true, 202, `"ignored":1`},
		{"history", "GET", "/api/v1/actions", nil, true, 200, `"result":"ignored"`},
		{"metrics", "GET", "/metrics", nil, true, 200, `pg_remediation_webhook_requests_total{code="413"} 1`},
		{"healthy", "GET", "/-/healthy", nil, true, 200, "Healthy"},
		{"ready", "GET", "/-/ready", nil, true, 200, "Ready"},
	} {
		code, body := do(tc.method, tc.path, tc.body, tc.auth)
		if code != tc.code || !strings.Contains(body, tc.inMessage) {
			t.Errorf("%s: %d %q; want %d containing %q", tc.name, code, truncate(body, 300), tc.code, tc.inMessage)
		}
	}
	// What a web page can post across sites without a CORS preflight.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		req, _ := http.NewRequest("POST", base+WebhookPath, bytes.NewReader(unmapped))
		req.SetBasicAuth("alertmanager", "s3cret")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST with Content-Type %q: %d, want 415", ct, resp.StatusCode)
		}
	}
	var hist struct {
		Mode    string   `json:"mode"`
		Actions []Record `json:"actions"`
	}
	_, body := do("GET", "/api/v1/actions", nil, true)
	if err := json.Unmarshal([]byte(body), &hist); err != nil || hist.Mode != ModeDryRun || len(hist.Actions) != 1 {
		t.Errorf("history %q: %v", body, err)
	}
	if got := testutil.ToFloat64(r.m.alerts.WithLabelValues("ignored")); got != 1 {
		t.Errorf("pg_remediation_alerts_total{result=ignored} = %v, want 1", got)
	}
}
