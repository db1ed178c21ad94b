package remediate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// backupRetryRule is a backup_retry rule whose info and backup commands each
// leave a file behind when they run.
func backupRetryRule(dir string) string {
	return fmt.Sprintf(`
  - alertname: PostgresBackupFailed
    action: backup_retry
    params:
      info: [touch, %q]
      command: [touch, %q]
`, filepath.Join(dir, "info-ran"), filepath.Join(dir, "backup-ran"))
}

func markerExists(t *testing.T, dir, marker string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, marker))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

// In dry-run, backup_retry runs no program: neither the backup nor the info
// command that only reads the repository. The same rule in enforce mode runs
// the info command, which shows that the marker would catch a run.
func TestBackupRetryDryRunRunsNoProgram(t *testing.T) {
	db := newDatabase(t)
	dir := t.TempDir()
	h := startReceiver(t, receiverConfig("dry-run", db, backupRetryRule(dir)))
	a := firing("alertname", "PostgresBackupFailed", "stanza", "demo", "type", "full")
	h.send(t, a)
	rec := h.waitRecords(t, 1, forAlert(a))[0]
	if rec.Result != ResultDryRun || !strings.Contains(rec.Detail, "the info command was not run (dry-run): touch") {
		t.Fatalf("dry-run record %+v", rec)
	}
	if markerExists(t, dir, "info-ran") || markerExists(t, dir, "backup-ran") {
		t.Fatal("dry-run ran a program")
	}

	enforce := startReceiver(t, receiverConfig("enforce", db, backupRetryRule(dir)))
	b := firing("alertname", "PostgresBackupFailed", "stanza", "demo", "type", "full")
	enforce.send(t, b)
	// touch prints nothing, which is not pgBackRest's JSON: the retry fails
	// after the info command ran, and the backup command does not run.
	if rec := enforce.waitRecords(t, 1, forAlert(b))[0]; rec.Result != ResultFailed || !strings.Contains(rec.Reason, "not pgBackRest info JSON") {
		t.Fatalf("enforce record %+v", rec)
	}
	if !markerExists(t, dir, "info-ran") || markerExists(t, dir, "backup-ran") {
		t.Fatalf("enforce mode: info ran %v, backup ran %v; want true, false", markerExists(t, dir, "info-ran"), markerExists(t, dir, "backup-ran"))
	}
}
