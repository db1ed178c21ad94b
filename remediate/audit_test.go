package remediate

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

// When the audit log cannot be written (here /dev/full, where every write
// fails with ENOSPC), an action does not run; the log and
// pg_remediation_audit_write_errors_total say so.
func TestUnwritableAuditLogStopsActions(t *testing.T) {
	db := newDatabase(t)
	deadTable(t, db, "orders", 20000)
	var log syncbuf.Buffer
	cfg := strings.Replace(receiverConfig("enforce", db, vacuumRule), "AUDIT", "/dev/full", 1)
	h := startReceiverOpts(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	a := deadTuplesAlert(db, "orders")
	h.send(t, a)
	var rec Record
	for deadline := time.Now().Add(30 * time.Second); rec.Result == ""; time.Sleep(20 * time.Millisecond) {
		for _, r := range h.r.Recent() {
			if forAlert(a)(r) {
				rec = r
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no decision about the alert")
		}
	}
	if rec.Result != ResultSkipped || !strings.Contains(rec.Reason, "nothing was run: the audit log cannot be written") {
		t.Fatalf("decision %+v", rec)
	}
	if lastVacuum(t, db, "orders") != nil {
		t.Error("the vacuum ran without its started record")
	}
	if got := testutil.ToFloat64(h.r.m.auditErrors); got < 1 {
		t.Errorf("pg_remediation_audit_write_errors_total = %v, want at least 1", got)
	}
	if !strings.Contains(log.String(), "cannot write the audit log; actions do not run until it can be written") {
		t.Errorf("the log does not say the audit log cannot be written:\n%s", log.String())
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// receiverBinary builds pg_hardening_exporter once for the package's tests.
func receiverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "remediate-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pg_hardening_exporter")
		out, err := exec.Command("go", "build", "-o", binPath, "..").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// A receiver killed with SIGKILL in the middle of an action leaves the
// action's "started" record in the audit log: it is written and synced
// before the action runs. The real binary runs a backup_retry whose command
// sleeps, against the real server (which holds the action's advisory lock).
func TestStartedRecordSurvivesSIGKILL(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	dir := t.TempDir()
	audit, pidFile := filepath.Join(dir, "audit.jsonl"), filepath.Join(dir, "backup.pid")
	cfg := filepath.Join(dir, "remediate.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `mode: enforce
audit: {file: %s, fsync: true}
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: '%s'
rules:
  - alertname: PostgresBackupFailed
    action: backup_retry
    params:
      command: [sh, -c, 'echo $$ > %s; exec sleep 60']
`, audit, s.SuperuserDSN("postgres"), pidFile), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var log syncbuf.Buffer
	cmd := exec.Command(receiverBinary(t), "remediate", "--config.file="+cfg, "--web.listen-address="+addr, "--web.trusted-network")
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		// The sleeping command, in its own process group, outlives the receiver.
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if t.Failed() {
			t.Logf("receiver's log:\n%s", log.String())
		}
	})
	h := &harness{url: "http://" + addr, audit: audit}
	a := firing("alertname", "PostgresBackupFailed", "stanza", "demo")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Post(h.url+WebhookPath, "application/json", bytes.NewReader(payloadOf(a)))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver does not answer: %v", err)
		}
	}
	// The command runs once it has written its pid.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup command did not start")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	recs := h.records(t)
	if len(recs) != 1 {
		t.Fatalf("audit records after SIGKILL: %+v; want only the started one", recs)
	}
	if r := recs[0]; r.Result != ResultStarted || r.Action != "backup_retry" || r.Fingerprint != a.Fingerprint || !strings.Contains(r.Statement, "exec sleep 60") {
		t.Errorf("record %+v", r)
	}
}
