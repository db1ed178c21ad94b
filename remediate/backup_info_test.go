package remediate

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// readFixture reads recorded pgBackRest output; testdata/README.md says where
// each file comes from.
func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The backup_retry guard reads `pgbackrest info --output=json`: a held
// backup lock or a recent successful backup of the alert's type skips the
// retry; anything else lets it run.
func TestCheckRepository(t *testing.T) {
	// Two stanzas; a full backup of demo is running (its lock is held), other
	// has no backup and no lock.
	running := readFixture(t, "testdata/pgbackrest-info-backup-running.json")
	// One stanza, demo: a full backup stopped at 1795655974, an incremental
	// one at 1795655977.
	done := readFixture(t, "../internal/backup/testdata/pgbackrest-info.json")
	incrStop := time.Unix(1795655977, 0)
	// The same output with the incremental backup marked failed.
	incrFailed := bytes.Replace(done, []byte(`"error":false,"info":{"delta":8458`), []byte(`"error":true,"info":{"delta":8458`), 1)
	if bytes.Equal(incrFailed, done) {
		t.Fatal("the recorded output no longer has the incremental backup this test marks failed")
	}
	// The running output with the stanzas in the other order.
	var stanzas []json.RawMessage
	if err := json.Unmarshal(running, &stanzas); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(stanzas)
	reversed, _ := json.Marshal(stanzas)

	for _, tc := range []struct {
		name, stanza, typ string
		out               []byte
		since             time.Time
		want              string // "" means run the retry
		wantErr           string
	}{
		{"backup running", "demo", "full", running, time.Time{}, "a backup of stanza demo is running (its backup lock is held)", ""},
		{"lock of another stanza", "other", "full", running, time.Time{}, "", ""},
		{"all stanzas, running one first", "", "", running, time.Time{}, "a backup of stanza demo is running", ""},
		{"all stanzas, running one last", "", "", reversed, time.Time{}, "a backup of stanza demo is running", ""},
		{"recent incremental", "demo", "incr", done, incrStop.Add(-time.Minute), "backup 20261126-011932F_20261126-011935I (incr) of stanza demo succeeded at 2026-11-26T01:19:37Z", ""},
		{"recent full", "demo", "full", done, incrStop.Add(-time.Minute), "backup 20261126-011932F (full) of stanza demo succeeded", ""},
		{"any type", "demo", "", done, incrStop.Add(-time.Second), "(incr) of stanza demo succeeded", ""},
		{"older than the lookback", "demo", "incr", done, incrStop.Add(time.Second), "", ""},
		{"no backup of the type", "demo", "diff", done, incrStop.Add(-time.Hour), "", ""},
		{"failed backups do not count", "demo", "incr", incrFailed, incrStop.Add(-time.Minute), "", ""},
		{"unknown stanza", "nosuch", "full", done, time.Time{}, "", `stanza "nosuch" is not in the info command's output`},
		{"no stanza at all", "", "", []byte("[]"), time.Time{}, "", "lists no stanza"},
		{"not JSON", "demo", "full", []byte("ERROR: [055]: unable to load info file"), time.Time{}, "", "not pgBackRest info JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, err := checkRepository(tc.out, tc.stanza, tc.typ, tc.since)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			case tc.want == "" && why != "":
				t.Errorf("skip %q, want the retry to run", why)
			case tc.want != "" && !strings.Contains(why, tc.want):
				t.Errorf("reason %q, want it to contain %q", why, tc.want)
			}
		})
	}
}
