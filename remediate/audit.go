package remediate

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Results of a decision, as written to the audit log and to
// pg_remediation_actions_total{result}.
const (
	ResultRan       = "ran"       // the action ran and succeeded
	ResultDryRun    = "dry_run"   // every check passed; in enforce mode it would have run
	ResultSkipped   = "skipped"   // a guard said no for now (cooldown, condition gone, lock held, circuit open, ...)
	ResultRefused   = "refused"   // the alert names something the receiver must never touch
	ResultDeferred  = "deferred"  // outside the maintenance window; queued for its opening
	ResultCancelled = "cancelled" // the alert resolved before the action ran
	ResultFailed    = "failed"    // the action ran and failed
	ResultIgnored   = "ignored"   // no rule maps the alert
	ResultDuplicate = "duplicate" // the notification was already received
	// ResultStarted is not a decision: it is written (and synced with
	// audit.fsync) right before an action changes anything, and followed by
	// the decision once it ends. A "started" without its decision means the
	// receiver stopped in the middle of the action.
	ResultStarted = "started"
)

// decisionResults are the results an action's decision can have: the list
// the help of pg_remediation_actions_total names and the one its series are
// created at 0 from (zeroSeries). Ignored and duplicate are decided before
// any action and counted under action "none".
var decisionResults = []string{ResultRan, ResultDryRun, ResultSkipped, ResultRefused, ResultDeferred, ResultCancelled, ResultFailed}

// Record is one line of the audit log.
type Record struct {
	Time            time.Time `json:"time"`
	Mode            string    `json:"mode"`
	Result          string    `json:"result"`
	Reason          string    `json:"reason,omitempty"`
	Action          string    `json:"action,omitempty"`
	Alertname       string    `json:"alertname"`
	Fingerprint     string    `json:"fingerprint"`
	StartsAt        time.Time `json:"starts_at"`
	Target          string    `json:"target,omitempty"`
	Database        string    `json:"database,omitempty"`
	Object          string    `json:"object,omitempty"`
	Statement       string    `json:"statement,omitempty"`
	Detail          string    `json:"detail,omitempty"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// bound cuts the record's texts, which may carry label values and command
// output, to the lengths the audit log, the log, the history and
// /api/v1/actions keep.
func (r *Record) bound() {
	for _, f := range []struct {
		s *string
		n int
	}{
		{&r.Alertname, 128}, {&r.Target, 128}, {&r.Database, 80}, {&r.Object, 200},
		{&r.Reason, 1000}, {&r.Statement, 1000}, {&r.Detail, 2 * maxOutput},
	} {
		*f.s = truncate(*f.s, f.n)
	}
}

// AuditLog appends one JSON object per line. Each line is written with one
// write(2) on a file opened with O_APPEND, so concurrent writers (and a
// second receiver sharing the file) never interleave within a line.
type AuditLog struct {
	mu    sync.Mutex
	f     *os.File
	fsync bool
}

// OpenAudit opens (creating) path for appending; an empty path gives a log
// that only keeps the in-memory history.
func OpenAudit(path string, fsync bool) (*AuditLog, error) {
	f, err := openAuditFile(path)
	if err != nil {
		return nil, err
	}
	return &AuditLog{f: f, fsync: fsync}, nil
}

func openAuditFile(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cannot open the audit log: %w; make its directory writable by the receiver's user", err)
	}
	return f, nil
}

// Reopen switches to path (which may be the same path: after log rotation
// renamed the file, the next line goes to a new file there). When path
// cannot be opened the log keeps writing where it did.
func (a *AuditLog) Reopen(path string, fsync bool) error {
	f, err := openAuditFile(path)
	if err != nil {
		return err
	}
	a.mu.Lock()
	old := a.f
	a.f, a.fsync = f, fsync
	a.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Write appends r.
func (a *AuditLog) Write(r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	if _, err := a.f.Write(b); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if a.fsync {
		return a.f.Sync()
	}
	return nil
}

// Close closes the file.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.f == nil {
		return nil
	}
	return a.f.Close()
}

// history keeps the last n records for GET /api/v1/actions.
type history struct {
	mu   sync.Mutex
	buf  []Record
	next int
	full bool
}

func newHistory(n int) *history { return &history{buf: make([]Record, n)} }

func (h *history) add(r Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.buf) == 0 {
		return
	}
	h.buf[h.next] = r
	h.next = (h.next + 1) % len(h.buf)
	if h.next == 0 {
		h.full = true
	}
}

// recent returns the records, newest first.
func (h *history) recent() []Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.next
	if h.full {
		n = len(h.buf)
	}
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, h.buf[(h.next-i+len(h.buf))%len(h.buf)])
	}
	return out
}
