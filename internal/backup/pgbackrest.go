package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// pgBackRest's `info --output=json`: a list of stanzas.
type pbrStanza struct {
	Name   string      `json:"name"`
	Cipher string      `json:"cipher"`
	Status pbrStatus   `json:"status"`
	Repo   []pbrRepo   `json:"repo"`
	Backup []pbrBackup `json:"backup"`
}

type pbrStatus struct {
	Code    *float64 `json:"code"`
	Message string   `json:"message"`
	Lock    struct {
		Backup struct {
			Held bool `json:"held"`
		} `json:"backup"`
	} `json:"lock"`
}

type pbrRepo struct {
	Key    json.Number `json:"key"`
	Cipher string      `json:"cipher"`
	Status pbrStatus   `json:"status"`
}

type pbrBackup struct {
	Label string `json:"label"`
	Type  string `json:"type"`
	Error *bool  `json:"error"`
	Info  struct {
		Size       *float64 `json:"size"`
		Repository struct {
			Delta *float64 `json:"delta"`
		} `json:"repository"`
	} `json:"info"`
	Timestamp struct {
		Start *float64 `json:"start"`
		Stop  *float64 `json:"stop"`
	} `json:"timestamp"`
}

// pbrInvalid is the stanza name pgBackRest reports when it cannot read the
// repository at all.
const pbrInvalid = "[invalid]"

// pbrOther is the status code for errors other than the listed ones, such as
// an unreadable repository.
const pbrOther = 99

// ErrUnreadable marks a report whose tool ran but could not read the repository.
var ErrUnreadable = errors.New("repository unreadable")

// parsePgBackRest parses `pgbackrest info --output=json`. It returns the
// report together with an ErrUnreadable error when a stanza or repository
// reports status 99, so the source is down but the status codes still show.
func parsePgBackRest(data []byte) (*Report, error) {
	var stanzas []pbrStanza
	if err := json.Unmarshal(data, &stanzas); err != nil {
		return nil, fmt.Errorf("pgbackrest info output is not the expected JSON: %w", err)
	}
	r := &Report{DefaultTypes: []string{"full", "diff", "incr"}, RepositorySize: map[string]float64{}}
	var unreadable []string
	seen := map[string]bool{}
	for _, st := range stanzas {
		name := st.Name
		if name == pbrInvalid {
			name = ""
		}
		if seen[name] {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("stanza %q listed twice", st.Name)
			continue
		}
		seen[name] = true
		if st.Status.Code == nil {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("stanza %q has no status code", st.Name)
			continue
		}
		ss := StanzaStatus{Stanza: name, Code: *st.Status.Code, Message: st.Status.Message, LockHeld: st.Status.Lock.Backup.Held}
		if *st.Status.Code == pbrOther {
			ss.Unreadable = true
			unreadable = append(unreadable, fmt.Sprintf("stanza %q: %s", name, st.Status.Message))
		}
		r.Stanzas = append(r.Stanzas, ss)
		repos := map[string]bool{}
		for _, rp := range st.Repo {
			if repos[rp.Key.String()] {
				r.Skipped++
				r.SkippedExample = fmt.Sprintf("stanza %q lists repo %s twice", st.Name, rp.Key.String())
				continue
			}
			repos[rp.Key.String()] = true
			code := 0.0
			if rp.Status.Code != nil {
				code = *rp.Status.Code
			}
			rs := RepoStatus{Stanza: name, Repo: rp.Key.String(), Code: code, Message: rp.Status.Message}
			if rp.Cipher != "" {
				enc := rp.Cipher != "none"
				rs.Encrypted = &enc
			}
			if code == pbrOther {
				unreadable = append(unreadable, fmt.Sprintf("repo%s: %s", rs.Repo, oneLine(rp.Status.Message)))
			}
			r.Repos = append(r.Repos, rs)
		}
		if st.Name == pbrInvalid {
			continue
		}
		var repoSize float64
		for _, b := range st.Backup {
			if b.Timestamp.Stop == nil || b.Type == "" {
				r.Skipped++
				r.SkippedExample = fmt.Sprintf("backup %q has no type or stop timestamp", b.Label)
				continue
			}
			run := Run{Stanza: name, Type: normalizeType(b.Type), OK: true, Size: -1, DatabaseSize: -1,
				End: time.Unix(int64(*b.Timestamp.Stop), 0)}
			if b.Timestamp.Start != nil {
				run.Start = time.Unix(int64(*b.Timestamp.Start), 0)
			}
			if b.Info.Repository.Delta != nil {
				run.Size = *b.Info.Repository.Delta
				repoSize += run.Size
			}
			if b.Info.Size != nil {
				run.DatabaseSize = *b.Info.Size
			}
			run.HasErrors = b.Error != nil && *b.Error
			r.Runs = append(r.Runs, run)
		}
		r.RepositorySize[name] = repoSize
	}
	if len(unreadable) > 0 {
		return r, fmt.Errorf("%w: %s", ErrUnreadable, strings.Join(unreadable, "; "))
	}
	return r, nil
}

// pbrArgs are appended to the pgbackrest command.
func pbrArgs(stanza string) []string {
	args := []string{"info", "--output=json"}
	if stanza != "" {
		args = append(args, "--stanza="+stanza)
	}
	return args
}

// oneLine folds a message onto one line and bounds its length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}
