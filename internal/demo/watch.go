package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/remediate"
)

// pollEvery is how often the demo reads Prometheus's alerts and the
// receiver's decisions; the times it prints are that precise.
const pollEvery = 2 * time.Second

// alertTrack is what the demo saw of one episode of one alert (its name and
// labels): from pending to resolved.
type alertTrack struct {
	name, labels              string
	pending, firing, resolved time.Duration // since the start
	fired, gone               bool
}

// watcher turns successive readings of Prometheus's alerts and the
// receiver's decisions into one line per change, and a summary at the end.
type watcher struct {
	start     time.Time
	out       io.Writer
	tracks    []*alertTrack          // every episode, first seen first
	current   map[string]*alertTrack // alert key -> its episode in progress
	seen      map[string]bool
	decisions []string // printed decision lines, for the summary
}

func newWatcher(start time.Time, out io.Writer) *watcher {
	return &watcher{start: start, out: out, current: map[string]*alertTrack{}, seen: map[string]bool{}}
}

// since formats a time as minutes:seconds after the demo's start.
func (w *watcher) since(t time.Time) string { return clock(t.Sub(w.start)) }

func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// hiddenLabels say nothing in a one-target demo.
var hiddenLabels = map[string]bool{"alertname": true, "alertstate": true, "job": true, "instance": true, "severity": true}

// alertKey is the alert's name and its distinguishing labels, sorted.
func alertKey(a promtest.Alert) (key, labels string) {
	var parts []string
	for k, v := range a.Labels {
		if !hiddenLabels[k] {
			parts = append(parts, k+"="+v)
		}
	}
	sort.Strings(parts)
	labels = strings.Join(parts, " ")
	return a.Labels["alertname"] + " " + labels, labels
}

// observeAlerts takes one reading of /api/v1/alerts at now and prints every
// alert that started pending, fired or resolved since the previous one. An
// alert's pending time is Prometheus's activeAt; firing and resolved are
// when a reading first showed them.
func (w *watcher) observeAlerts(now time.Time, alerts []promtest.Alert) {
	at := now.Sub(w.start)
	present := map[string]bool{}
	for _, a := range alerts {
		key, labels := alertKey(a)
		present[key] = true
		t := w.current[key]
		if t == nil {
			t = &alertTrack{name: a.Labels["alertname"], labels: labels, pending: a.ActiveAt.Sub(w.start)}
			w.current[key] = t
			w.tracks = append(w.tracks, t)
			w.say(t.pending, "%s pending", t)
		}
		if a.State == "firing" && !t.fired {
			t.fired, t.firing = true, at
			w.say(at, "%s firing, %s after it started pending", t, clock(at-t.pending))
		}
	}
	for _, t := range w.tracks {
		key := t.name + " " + t.labels
		if w.current[key] == t && !present[key] {
			delete(w.current, key)
			t.gone, t.resolved = true, at
			w.say(at, "%s resolved", t)
		}
	}
}

// String is the alert's name and its distinguishing labels.
func (t *alertTrack) String() string { return strings.TrimSpace(t.name + " " + t.labels) }

// observeDecisions prints each receiver decision not printed before, in the
// order they were made (the audit log's new lines, or the receiver's
// /api/v1/actions history, which repeats earlier ones).
func (w *watcher) observeDecisions(records []remediate.Record) {
	sort.SliceStable(records, func(i, j int) bool { return records[i].Time.Before(records[j].Time) })
	for _, rec := range records {
		key := rec.Time.Format(time.RFC3339Nano) + rec.Fingerprint + rec.Action + rec.Result
		if w.seen[key] || rec.Result == remediate.ResultDuplicate {
			continue
		}
		w.seen[key] = true
		line := describeDecision(rec)
		w.decisions = append(w.decisions, w.since(rec.Time)+"  "+line)
		w.say(rec.Time.Sub(w.start), "receiver: %s", line)
	}
}

var longNumber = regexp.MustCompile(`\d{5,}`)

// groupDigits writes counts such as 20000 as 20 000, as the demo's text does;
// process ids stay as they are.
func groupDigits(s string) string {
	var b strings.Builder
	last := 0
	for _, m := range longNumber.FindAllStringIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		n := s[m[0]:m[1]]
		if strings.HasSuffix(s[:m[0]], "pid ") {
			b.WriteString(n)
		} else {
			for i, c := range n {
				if i > 0 && (len(n)-i)%3 == 0 {
					b.WriteByte(' ')
				}
				b.WriteRune(c)
			}
		}
		last = m[1]
	}
	return b.String() + s[last:]
}

// describeDecision says in one line what the receiver decided.
func describeDecision(rec remediate.Record) string {
	verb := strings.ReplaceAll(rec.Action, "_", " ")
	switch rec.Action {
	case "vacuum", "analyze", "reindex":
		verb = strings.ToUpper(rec.Action)
	}
	what := verb
	if rec.Object != "" {
		what += " " + rec.Object
	}
	why := rec.Detail
	if why == "" {
		why = rec.Reason
	}
	if why != "" {
		why = ": " + groupDigits(why)
	}
	switch rec.Result {
	case remediate.ResultIgnored:
		return fmt.Sprintf("no rule for %s, ignored", rec.Alertname)
	case remediate.ResultDryRun:
		return fmt.Sprintf("would %s%s, dry-run (%s)", what, why, rec.Alertname)
	case remediate.ResultRan:
		return fmt.Sprintf("ran %s%s (%s)", what, why, rec.Alertname)
	}
	return fmt.Sprintf("%s %s%s (%s)", strings.ReplaceAll(rec.Result, "_", " "), what, why, rec.Alertname)
}

func (w *watcher) say(at time.Duration, format string, args ...any) {
	fmt.Fprintf(w.out, "demo %s  %s\n", clock(at), strings.TrimSpace(fmt.Sprintf(format, args...)))
}

// summary prints each alert with when it started pending, fired and
// resolved, the time to the first firing, and each decision.
func (w *watcher) summary(now time.Time) {
	fmt.Fprintf(w.out, "\ndemo: what happened in %s (minutes:seconds after the start, read every %s)\n\n", clock(now.Sub(w.start)), pollEvery)
	tw := tabwriter.NewWriter(w.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  alert\tpending\tfiring\tresolved\t")
	tracks := append([]*alertTrack{}, w.tracks...)
	sort.SliceStable(tracks, func(i, j int) bool { return tracks[i].pending < tracks[j].pending })
	var first time.Duration
	for _, t := range tracks {
		firing, resolved := "-", "-"
		if t.fired {
			firing = clock(t.firing)
			if first == 0 || t.firing < first {
				first = t.firing
			}
		}
		if t.gone {
			resolved = clock(t.resolved)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", t, clock(t.pending), firing, resolved)
	}
	_ = tw.Flush()
	if len(w.tracks) == 0 {
		fmt.Fprintln(w.out, "  no alert started")
	}
	if first > 0 {
		fmt.Fprintf(w.out, "\n  first alert fired %s after the start\n", clock(first))
	}
	fmt.Fprintln(w.out, "\n  receiver decisions:")
	if len(w.decisions) == 0 {
		fmt.Fprintln(w.out, "  none")
	}
	for _, d := range w.decisions {
		fmt.Fprintln(w.out, "  "+d)
	}
}

// watch reads Prometheus's alerts and the receiver's audit log every
// pollEvery until ctx ends, then prints the summary.
func (r *run) watch(ctx context.Context, st State, start time.Time) {
	w := newWatcher(start, r.o.Out)
	prom := &promtest.Server{URL: st.Prometheus}
	audit := &auditTail{path: r.path(auditFile)}
	complained := map[string]bool{}
	complain := func(what string, err error) {
		if err != nil && ctx.Err() == nil && !complained[what] {
			complained[what] = true
			r.say("demo: cannot read %s (will keep trying): %v", what, err)
		}
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		alerts, err := prom.Alerts(ctx)
		complain("Prometheus's alerts", err)
		if err == nil {
			w.observeAlerts(time.Now(), alerts)
		}
		records, err := audit.read()
		complain("the receiver's audit log", err)
		w.observeDecisions(records)
		select {
		case <-ctx.Done():
			w.summary(time.Now())
			return
		case <-tick.C:
		}
	}
}

// auditFile is the receiver's audit log in the demo's directory.
const auditFile = "remediation-audit.jsonl"

// auditTail reads the records appended to the receiver's audit log since
// the previous read.
type auditTail struct {
	path   string
	offset int64
}

func (a *auditTail) read() ([]remediate.Record, error) {
	f, err := os.Open(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no decision yet
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	// Only whole lines: the receiver may be writing the next one.
	end := bytes.LastIndexByte(data, '\n') + 1
	a.offset += int64(end)
	var out []remediate.Record
	for _, line := range bytes.Split(data[:end], []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec remediate.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return out, fmt.Errorf("%s: %v", a.path, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
