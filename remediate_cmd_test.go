package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
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

// The remediate command re-reads its file on SIGHUP and on POST /-/reload:
// a bad file is refused (the previous configuration stays in use and the
// reload gauge drops to 0), a good one takes effect.
func TestRemediateReload(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	file := writeFile(t, "remediate.yml", strings.Replace(remediateTestConfig, "%MODE%", "dry-run", 1))
	cmd := mainCommand(t, "remediate", "--config.file="+file, "--web.listen-address="+addr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("remediate's log:\n%s", stderr.String())
		}
	})
	base := "http://" + addr
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := get("/-/ready"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the receiver did not become ready")
		}
	}
	mode := func() string {
		_, body := get("/api/v1/actions")
		var v struct {
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("/api/v1/actions: %q: %v", body, err)
		}
		return v.Mode
	}
	reloadOK := func() string {
		_, body := get("/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "pg_remediation_config_last_reload_successful "); ok {
				return v
			}
		}
		t.Fatal("/metrics has no pg_remediation_config_last_reload_successful")
		return ""
	}
	// waitReload waits for a SIGHUP's outcome, which comes asynchronously.
	waitReload := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); reloadOK() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("pg_remediation_config_last_reload_successful stayed at %s, want %s", reloadOK(), want)
			}
		}
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	postReload := func() (int, string) {
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if m, ok := mode(), reloadOK(); m != "dry-run" || ok != "1" {
		t.Fatalf("at start: mode %q, reload gauge %s", m, ok)
	}
	bad := strings.Replace(remediateTestConfig, "%MODE%", "enforce", 1) + "    cooldwn: 1h\n"

	// SIGHUP with a bad file: refused, the dry-run configuration stays.
	write(bad)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReload("0")
	if m := mode(); m != "dry-run" {
		t.Errorf("after a bad file on SIGHUP the mode is %q; the previous configuration must stay", m)
	}
	// The receiver still works with the previous configuration.
	code, body := remediatePost(t, base+"/webhook", `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Other"},"startsAt":"2025-01-01T00:00:00Z"}]}`)
	if code != http.StatusAccepted || !strings.Contains(body, `"ignored":1`) {
		t.Errorf("webhook after a refused reload: %d %q", code, body)
	}

	// POST /-/reload with the bad file: 500 naming file and line.
	if code, body := postReload(); code != http.StatusInternalServerError || !strings.Contains(body, file+":9:") || !strings.Contains(body, "cooldwn") {
		t.Errorf("POST /-/reload with a bad file: %d %q", code, body)
	}
	if m := mode(); m != "dry-run" {
		t.Errorf("after a bad file on POST /-/reload the mode is %q", m)
	}

	// POST /-/reload with a good file: applied.
	write(strings.Replace(remediateTestConfig, "%MODE%", "enforce", 1))
	if code, body := postReload(); code != http.StatusOK {
		t.Fatalf("POST /-/reload with a good file: %d %q", code, body)
	}
	if m, ok := mode(), reloadOK(); m != "enforce" || ok != "1" {
		t.Errorf("after a good reload: mode %q, reload gauge %s; want enforce and 1", m, ok)
	}

	// SIGHUP with a good file: applied.
	write(bad)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReload("0")
	write(strings.Replace(remediateTestConfig, "%MODE%", "dry-run", 1))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitReload("1")
	if m := mode(); m != "dry-run" {
		t.Errorf("after a good file on SIGHUP the mode is %q, want dry-run", m)
	}
	if !strings.Contains(stderr.String(), "keeping the previous remediation configuration") {
		t.Errorf("the log does not say a bad file was refused:\n%s", stderr.String())
	}
}

func remediatePost(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
