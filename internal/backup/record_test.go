package backup

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func records(t *testing.T, dir string) []Record {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestRecordOutcomes(t *testing.T) {
	dir := t.TempDir()
	payload := filepath.Join(t.TempDir(), "dump")
	var stdout, stderr bytes.Buffer
	opts := func(typ string, argv ...string) RecordOptions {
		return RecordOptions{Dir: dir, Stanza: "app", Type: typ, Argv: argv, Stdout: &stdout, Stderr: &stderr}
	}

	o := opts("full", "sh", "-c", "printf 0123456789 > "+payload+"; echo done")
	o.SizeFrom = payload
	if code := RunAndRecord(o); code != 0 {
		t.Fatalf("success: exit %d; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "done") {
		t.Errorf("the command's output was not passed through: %q", stdout.String())
	}
	if code := RunAndRecord(opts("incr", "sh", "-c", "echo first >&2; echo 'ERROR: [041]: unable to load info file' >&2; exit 41")); code != 41 {
		t.Fatalf("failure: exit %d, want the command's 41", code)
	}
	if code := RunAndRecord(opts("diff", "/nonexistent/backup-tool")); code != 127 {
		t.Fatalf("missing command: exit %d, want 127", code)
	}
	recs := records(t, dir)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	byType := map[string]Record{}
	for _, r := range recs {
		byType[r.Type] = r
		if err := r.Validate(); err != nil {
			t.Errorf("written record invalid: %v", err)
		}
	}
	if r := byType["full"]; r.Status != StatusSuccess || r.SizeBytes == nil || *r.SizeBytes != 10 || *r.ExitCode != 0 || r.Tool != "sh" {
		t.Errorf("success record: %+v", r)
	}
	if r := byType["incr"]; r.Status != StatusFailure || *r.ExitCode != 41 || r.Error != "ERROR: [041]: unable to load info file" || r.SizeBytes != nil {
		t.Errorf("failure record: %+v", r)
	}
	if r := byType["diff"]; r.Status != StatusFailure || *r.ExitCode != 127 || !strings.Contains(r.Error, "no such file") {
		t.Errorf("missing command record: %+v", r)
	}
	start, _ := parseTime(byType["incr"].StartTime)
	end, _ := parseTime(byType["incr"].EndTime)
	if end.Before(start) || time.Since(start) > time.Minute {
		t.Errorf("times %v .. %v", start, end)
	}
}

// A signal to the wrapper reaches the command; the run is recorded as
// failed and the exit code says which signal ended it.
func TestRecordForwardsSignals(t *testing.T) {
	dir := t.TempDir()
	sigs := make(chan os.Signal, 1)
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- RunAndRecord(RecordOptions{Dir: dir, Type: "full", Argv: []string{"sleep", "30"}, Stdout: &stderr, Stderr: &stderr, Signals: sigs})
	}()
	time.Sleep(200 * time.Millisecond)
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit %d, want %d", code, 128+int(syscall.SIGTERM))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not stop after SIGTERM was forwarded")
	}
	recs := records(t, dir)
	if len(recs) != 1 || recs[0].Status != StatusFailure || !strings.Contains(recs[0].Error, "terminated") {
		t.Fatalf("records: %+v", recs)
	}
}

func TestRecordBadInvocation(t *testing.T) {
	var stderr bytes.Buffer
	dir := t.TempDir()
	for _, o := range []RecordOptions{
		{Dir: dir, Type: "full"},
		{Dir: filepath.Join(dir, "missing"), Type: "full", Argv: []string{"true"}},
		{Dir: dir, Type: "Full!", Argv: []string{"true"}},
		{Dir: dir, Argv: []string{"true"}},
	} {
		o.Stdout, o.Stderr = &stderr, &stderr
		if code := RunAndRecord(o); code != 2 {
			t.Errorf("%+v: exit %d, want 2", o, code)
		}
	}
	if n := len(records(t, dir)); n != 0 {
		t.Errorf("%d records written for bad invocations", n)
	}
	if strings.Count(stderr.String(), "backup-record: ") != 4 {
		t.Errorf("messages:\n%s", stderr.String())
	}
}

// A record that cannot be written (here the directory vanished during the
// run) makes a successful run exit 1: a backup nobody sees is no success.
func TestRecordUnwritableDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "manifests")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := RunAndRecord(RecordOptions{Dir: dir, Type: "full", Argv: []string{"rmdir", dir}, Stdout: &stderr, Stderr: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "cannot create a file in the manifest directory") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
}
