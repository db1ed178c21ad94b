package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/proctest"

	"golang.org/x/crypto/bcrypt"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

const remediateTestConfig = `mode: %MODE%
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: postgres://remediate@127.0.0.1:1/postgres
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
`

func remediateConfig(mode string) string {
	return strings.Replace(remediateTestConfig, "%MODE%", mode, 1)
}

// The credentials of the web configuration basicAuthWebConfig writes.
const (
	testUser     = "alertmanager"
	testPassword = "s3cret"
)

// basicAuthWebConfig writes an exporter-toolkit web configuration that
// requires basic auth as testUser.
func basicAuthWebConfig(t *testing.T) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "web.yml", fmt.Sprintf("basic_auth_users:\n  %s: %s\n", testUser, hash))
}

// remediateProcess is a running remediate command.
type remediateProcess struct {
	cmd    *exec.Cmd
	base   string
	output *syncbuf.Buffer
}

// waitLog waits until the log says text.
func (p *remediateProcess) waitLog(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.output.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log does not say %q:\n%s", text, p.output.String())
		}
	}
}

// startRemediate runs the remediate command with args (a listen address is
// added) and waits until it answers HTTP.
func startRemediate(t *testing.T, args ...string) *remediateProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &remediateProcess{base: "http://" + addr, cmd: mainCommand(t, append([]string{"remediate", "--web.listen-address=" + addr}, args...)...)}
	p.output = proctest.Start(t, p.cmd, "remediate")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// Any answer, 401 included, means it serves.
		if resp, err := http.Get(p.base + "/-/ready"); err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatal("the receiver did not start serving")
		}
	}
}

// do sends a request, with the test credentials when auth is true.
func (p *remediateProcess) do(t *testing.T, method, path, body string, auth bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(testUser, testPassword)
	}
	if body != "" {
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

func (p *remediateProcess) mode(t *testing.T, auth bool) string {
	t.Helper()
	_, body := p.do(t, "GET", "/api/v1/actions", "", auth)
	var v struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("/api/v1/actions: %q: %v", body, err)
	}
	return v.Mode
}

func (p *remediateProcess) reloadOK(t *testing.T, auth bool) string {
	t.Helper()
	_, body := p.do(t, "GET", "/metrics", "", auth)
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "pg_remediation_config_last_reload_successful "); ok {
			return v
		}
	}
	t.Fatal("/metrics has no pg_remediation_config_last_reload_successful")
	return ""
}

// waitReload waits for a SIGHUP's outcome, which comes asynchronously.
func (p *remediateProcess) waitReload(t *testing.T, auth bool, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.reloadOK(t, auth) != want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pg_remediation_config_last_reload_successful stayed at %s, want %s", p.reloadOK(t, auth), want)
		}
	}
}

func (p *remediateProcess) hangup(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func rewrite(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const otherAlert = `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Other"},"startsAt":"2025-01-01T00:00:00Z"}]}`

// The remediate command re-reads its file on SIGHUP and on POST /-/reload:
// a bad file is refused (the previous configuration stays in use and the
// reload gauge drops to 0), a good one takes effect.
func TestRemediateReload(t *testing.T) {
	file := writeFile(t, "remediate.yml", remediateConfig("dry-run"))
	p := startRemediate(t, "--config.file="+file, "--web.config.file="+basicAuthWebConfig(t))
	if m, ok := p.mode(t, true), p.reloadOK(t, true); m != "dry-run" || ok != "1" {
		t.Fatalf("at start: mode %q, reload gauge %s", m, ok)
	}
	bad := remediateConfig("enforce") + "    cooldwn: 1h\n"

	// SIGHUP with a bad file: refused, the dry-run configuration stays.
	rewrite(t, file, bad)
	p.hangup(t)
	p.waitReload(t, true, "0")
	if m := p.mode(t, true); m != "dry-run" {
		t.Errorf("after a bad file on SIGHUP the mode is %q; the previous configuration must stay", m)
	}
	// The receiver still works with the previous configuration.
	if code, body := p.do(t, "POST", "/webhook", otherAlert, true); code != http.StatusAccepted || !strings.Contains(body, `"ignored":1`) {
		t.Errorf("webhook after a refused reload: %d %q", code, body)
	}

	// POST /-/reload with the bad file: 500 naming file and line.
	if code, body := p.do(t, "POST", "/-/reload", "", true); code != http.StatusInternalServerError || !strings.Contains(body, file+":9:") || !strings.Contains(body, "cooldwn") {
		t.Errorf("POST /-/reload with a bad file: %d %q", code, body)
	}
	if m := p.mode(t, true); m != "dry-run" {
		t.Errorf("after a bad file on POST /-/reload the mode is %q", m)
	}

	// POST /-/reload with a good file: applied.
	rewrite(t, file, remediateConfig("enforce"))
	if code, body := p.do(t, "POST", "/-/reload", "", true); code != http.StatusOK {
		t.Fatalf("POST /-/reload with a good file: %d %q", code, body)
	}
	if m, ok := p.mode(t, true), p.reloadOK(t, true); m != "enforce" || ok != "1" {
		t.Errorf("after a good reload: mode %q, reload gauge %s; want enforce and 1", m, ok)
	}

	// SIGHUP with a good file: applied.
	rewrite(t, file, bad)
	p.hangup(t)
	p.waitReload(t, true, "0")
	rewrite(t, file, remediateConfig("dry-run"))
	p.hangup(t)
	p.waitReload(t, true, "1")
	if m := p.mode(t, true); m != "dry-run" {
		t.Errorf("after a good file on SIGHUP the mode is %q, want dry-run", m)
	}
	p.waitLog(t, "keeping the previous remediation configuration")
}

// Enforce mode does not start unless clients authenticate or the network
// is declared trusted; the error says how to configure either.
func TestRemediateEnforceNeedsAuthentication(t *testing.T) {
	enforce := writeFile(t, "remediate.yml", remediateConfig("enforce"))
	noAuth := writeFile(t, "web.yml", "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no web config", nil, "no --web.config.file is given"},
		{"web config without auth", []string{"--web.config.file=" + noAuth}, noAuth + " sets neither basic_auth_users nor tls_server_config.client_auth_type: RequireAndVerifyClientCert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"remediate", "--config.file=" + enforce, "--web.listen-address=127.0.0.1:0"}, tc.args...)
			if code := run(args, io.Discard, &stderr); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
			}
			for _, want := range []string{tc.want, "--web.config.file a file with basic_auth_users", "--web.trusted-network"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("the error does not say %q:\n%s", want, stderr.String())
				}
			}
		})
	}

	// Declared trusted, it starts, says so, and acts for anyone.
	p := startRemediate(t, "--config.file="+enforce, "--web.trusted-network")
	if m := p.mode(t, false); m != "enforce" {
		t.Errorf("mode %q with --web.trusted-network, want enforce", m)
	}
	p.waitLog(t, "enforce mode without authentication (--web.trusted-network)")
	// A reload error is not shown to an unauthenticated client.
	rewrite(t, enforce, remediateConfig("enforce")+"    cooldwn: 1h\n")
	if code, body := p.do(t, "POST", "/-/reload", "", false); code != http.StatusInternalServerError || strings.Contains(body, "cooldwn") || strings.Contains(body, enforce) {
		t.Errorf("unauthenticated POST /-/reload with a bad file: %d %q; want 500 without the error", code, body)
	}
}

// A receiver started in dry-run without authentication refuses a reload
// into enforce mode, and keeps the error to its log.
func TestRemediateReloadIntoEnforceNeedsAuthentication(t *testing.T) {
	file := writeFile(t, "remediate.yml", remediateConfig("dry-run"))
	p := startRemediate(t, "--config.file="+file)
	p.waitLog(t, "no authentication: anyone who can reach the listen address")
	rewrite(t, file, remediateConfig("enforce"))
	code, body := p.do(t, "POST", "/-/reload", "", false)
	if code != http.StatusInternalServerError || strings.Contains(body, "enforce") {
		t.Errorf("POST /-/reload into enforce: %d %q; want 500 without the error", code, body)
	}
	if m, ok := p.mode(t, false), p.reloadOK(t, false); m != "dry-run" || ok != "0" {
		t.Errorf("after the refused reload: mode %q, reload gauge %s; want dry-run and 0", m, ok)
	}
	p.waitLog(t, "mode is enforce but no --web.config.file is given")
}

// With basic auth configured, every endpoint needs the credentials,
// /-/healthy included: exporter-toolkit wraps the whole server.
func TestRemediateEndpointsNeedCredentials(t *testing.T) {
	file := writeFile(t, "remediate.yml", remediateConfig("enforce"))
	p := startRemediate(t, "--config.file="+file, "--web.config.file="+basicAuthWebConfig(t))
	rewrite(t, file, remediateConfig("enforce")+"    cooldwn: 1h\n")
	for _, tc := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/webhook", otherAlert, http.StatusAccepted},
		{"GET", "/api/v1/actions", "", http.StatusOK},
		{"POST", "/-/reload", "", http.StatusInternalServerError},
		{"GET", "/metrics", "", http.StatusOK},
		{"GET", "/-/healthy", "", http.StatusOK},
		{"GET", "/-/ready", "", http.StatusOK},
	} {
		if code, body := p.do(t, tc.method, tc.path, tc.body, false); code != http.StatusUnauthorized || strings.Contains(body, "cooldwn") {
			t.Errorf("%s %s without credentials: %d %q; want 401", tc.method, tc.path, code, body)
		}
		if code, body := p.do(t, tc.method, tc.path, tc.body, true); code != tc.code {
			t.Errorf("%s %s with credentials: %d %q; want %d", tc.method, tc.path, code, body, tc.code)
		}
	}
	if code, _ := p.do(t, "GET", "/api/v1/actions", "", false); code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/actions without credentials after the requests: %d", code)
	}
}

// auditLines reads the audit records in file, nil if there is none.
func auditLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// SIGHUP reopens the audit file, so log rotation works: after the file is
// renamed, the next record lands in a new file at the configured path,
// also when the configuration file is bad at that moment. A reload that
// changes audit.file moves the log there.
func TestRemediateReopensAuditFile(t *testing.T) {
	dir := t.TempDir()
	audit, moved := dir+"/audit.jsonl", dir+"/elsewhere.jsonl"
	cfg := "audit: {file: " + audit + ", fsync: true}\n" + remediateConfig("dry-run")
	file := writeFile(t, "remediate.yml", cfg)
	p := startRemediate(t, "--config.file="+file, "--web.config.file="+basicAuthWebConfig(t))
	post := func(name string) {
		t.Helper()
		body := strings.Replace(otherAlert, `"Other"`, `"`+name+`"`, 1)
		if code, resp := p.do(t, "POST", "/webhook", body, true); code != http.StatusAccepted {
			t.Fatalf("webhook: %d %q", code, resp)
		}
	}
	post("First")
	if err := os.Rename(audit, audit+".1"); err != nil {
		t.Fatal(err)
	}
	p.hangup(t)
	p.waitLog(t, "remediation configuration reloaded")
	post("Second")
	if got := auditLines(t, audit); len(got) != 1 || !strings.Contains(got[0], `"alertname":"Second"`) {
		t.Errorf("after rotation and SIGHUP, %s holds %q; want the second record only", audit, got)
	}
	if got := auditLines(t, audit+".1"); len(got) != 1 || !strings.Contains(got[0], `"alertname":"First"`) {
		t.Errorf("the rotated file holds %q; want the first record only", got)
	}

	// Rotation while the configuration file is bad.
	if err := os.Rename(audit, audit+".2"); err != nil {
		t.Fatal(err)
	}
	rewrite(t, file, cfg+"    cooldwn: 1h\n")
	p.hangup(t)
	p.waitReload(t, true, "0")
	post("Third")
	if got := auditLines(t, audit); len(got) != 1 || !strings.Contains(got[0], `"alertname":"Third"`) {
		t.Errorf("after rotation and SIGHUP with a bad configuration file, %s holds %q", audit, got)
	}

	// A new audit.file.
	rewrite(t, file, strings.Replace(cfg, audit, moved, 1))
	if code, body := p.do(t, "POST", "/-/reload", "", true); code != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %q", code, body)
	}
	post("Fourth")
	if got := auditLines(t, moved); len(got) != 1 || !strings.Contains(got[0], `"alertname":"Fourth"`) {
		t.Errorf("after audit.file changed, %s holds %q", moved, got)
	}
	if got := auditLines(t, audit); len(got) != 1 {
		t.Errorf("the previous audit file got more records: %q", got)
	}
}
