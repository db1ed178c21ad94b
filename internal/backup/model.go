package backup

import (
	"strings"
	"time"
)

// Run is one backup as a tool or a manifest file reports it.
type Run struct {
	Stanza string
	Type   string // normalized: full, diff, incr, delta, or the manifest's own type
	Start  time.Time
	End    time.Time // completion (or failure) time; zero when unknown
	OK     bool
	// Size is what the backup stored in the repository, DatabaseSize the size
	// of the data it covers; negative when the tool does not say.
	Size         float64
	DatabaseSize float64
	// HasErrors marks a completed backup that reported problems (pgBackRest's
	// error flag: page checksum errors found while copying).
	HasErrors bool
}

// when is the time the run is ordered by: its end, else its start.
func (r Run) when() time.Time {
	if !r.End.IsZero() {
		return r.End
	}
	return r.Start
}

// Check is a verification or a restore test.
type Check struct {
	Stanza string
	At     time.Time
	OK     bool
}

// RepoStatus is a pgBackRest repository's status as info reports it.
type RepoStatus struct {
	Stanza    string
	Repo      string
	Code      float64
	Message   string
	Encrypted *bool
}

// StanzaStatus is a pgBackRest stanza's status.
type StanzaStatus struct {
	Stanza     string
	Code       float64
	Message    string
	LockHeld   bool
	Encrypted  *bool
	Unreadable bool // status 99: the repository could not be read
}

// Report is what one read of a source yields.
type Report struct {
	Runs          []Run
	Verifications []Check
	RestoreTests  []Check
	Stanzas       []StanzaStatus
	Repos         []RepoStatus
	// RepositorySize per stanza, when the source knows it.
	RepositorySize map[string]float64
	// Encrypted per stanza, when the source knows it.
	Encrypted map[string]bool
	// Skipped counts entries that could not be parsed and were left out.
	Skipped int
	// SkippedExample names one skipped entry and why, for the log.
	SkippedExample string
	// DefaultTypes are the backup types a tool always reports, so that, for
	// example, "latest incremental" exists as soon as a full backup does.
	DefaultTypes []string
}

// typeAliases map the spellings backup scripts use to one name per type.
var typeAliases = map[string]string{
	"differential": "diff",
	"incremental":  "incr",
	"inc":          "incr",
}

// normalizeType lower-cases t and maps aliases.
func normalizeType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	if a, ok := typeAliases[t]; ok {
		return a
	}
	return t
}

// covers reports whether a successful backup of type have also serves as the
// latest backup of type want: a full backup is a valid base for the next
// differential, incremental or delta backup, and a differential for the next
// incremental, which is how pgBackRest and pgmonitor count them.
func covers(have, want string) bool {
	if have == want {
		return true
	}
	switch have {
	case "full":
		return want == "diff" || want == "incr" || want == "delta"
	case "diff":
		return want == "incr"
	}
	return false
}
