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
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/proctest"
)

const helperEnv = "PG_HARDENING_EXPORTER_RUN_MAIN"

// TestMain runs the binary's main instead of the tests when the test binary
// is started with helperEnv set, so tests can run the real command line in a
// child process.
func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			panic(err)
		}
		os.Exit(run(args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func mainCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+string(b))
	return cmd
}

// backup-record passes the command's exit code through and leaves a record.
func TestBackupRecordCommand(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	code := run([]string{"backup-record", "--manifest.dir", dir, "--type=full", "--stanza=app", "--", "sh", "-c", "echo boom >&2; exit 3"}, io.Discard, &stderr)
	if code != 3 {
		t.Fatalf("exit %d, want 3; stderr %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "backup-app-full-*.json"))
	if len(files) != 1 {
		t.Fatalf("records: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), `"status": "failure"`) || !strings.Contains(string(b), `"error": "boom"`) {
		t.Errorf("record:\n%s", b)
	}
	if code := run([]string{"backup-record", "--manifest.dir", dir, "--", "true"}, io.Discard, &stderr); code != 2 {
		t.Errorf("without --type: exit %d, want 2", code)
	}
}

// A signal to the backup-record process reaches the wrapped command.
func TestBackupRecordForwardsSignal(t *testing.T) {
	dir := t.TempDir()
	cmd := mainCommand(t, "backup-record", "--manifest.dir", dir, "--type=full", "--", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("backup-record did not end after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "backup-full-*.json")); len(files) != 1 {
		t.Errorf("records: %v", files)
	}
}

// The exporter serves the configured backup sources on /metrics.
func TestExporterServesBackupSources(t *testing.T) {
	dir := t.TempDir()
	if code := run([]string{"backup-record", "--manifest.dir", dir, "--type=full", "--", "true"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("backup-record: exit %d", code)
	}
	cfg := filepath.Join(t.TempDir(), "exporter.yml")
	if err := os.WriteFile(cfg, []byte("backup_sources:\n  - name: nightly\n    type: manifest\n    directory: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := mainCommand(t, "--config.file="+cfg, "--web.listen-address="+addr)
	cmd.Env = append(cmd.Env, "DATA_SOURCE_NAME=", "DATA_SOURCE_URI=")
	logs := proctest.Start(t, cmd, "the exporter")
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{
		`pg_backup_source_up{source="nightly"} 1`,
		`pg_backup_backups{source="nightly",stanza="",type="full"} 1`,
		`pg_backup_retention_seconds{source="nightly"} 2.592e+06`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		fmt.Println(logs.String())
	}
}
