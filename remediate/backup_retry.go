package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// backupRetryParams are the parameters of backup_retry.
type backupRetryParams struct {
	// Command runs the backup, e.g. [pg_hardening_exporter, backup-record, ...,
	// pgbackrest, --stanza={stanza}, --type={type}, backup].
	argvSpec `yaml:",inline"`
	// Info prints the repository's state as `pgbackrest info --output=json`
	// does, e.g. [pgbackrest, --stanza={stanza}, --output=json, info]. When
	// set, a held backup lock or a recent successful backup skips the retry.
	Info []string `yaml:"info"`
	// Lookback: a successful backup (of the alert's type, if it has one)
	// that finished this recently makes the retry unnecessary.
	Lookback time.Duration `yaml:"lookback"`

	info argvSpec
}

func (p *backupRetryParams) validate() error {
	if err := p.argvSpec.validate("command", 2*time.Hour); err != nil {
		return err
	}
	if p.Lookback == 0 {
		p.Lookback = 6 * time.Hour
	}
	if p.Lookback < 0 {
		return errors.New("lookback must not be negative")
	}
	if len(p.Info) > 0 {
		p.info = argvSpec{Command: p.Info, LabelPatterns: p.LabelPatterns}
		if err := p.info.validate("info", 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	register(&actionSpec{name: "backup_retry", params: func() actionParams { return &backupRetryParams{} }, run: runBackupRetry})
}

// pgbackrestInfo is the part of `pgbackrest info --output=json` used here.
type pgbackrestInfo []struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Lock    struct {
			Backup struct {
				Held bool `json:"held"`
			} `json:"backup"`
		} `json:"lock"`
	} `json:"status"`
	Backup []struct {
		Label     string `json:"label"`
		Type      string `json:"type"`
		Error     *bool  `json:"error"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
	} `json:"backup"`
}

// checkRepository reads the repository state: a non-empty reason means skip.
func checkRepository(out []byte, stanza, typ string, since time.Time) (string, error) {
	var info pgbackrestInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("the info command's output is not pgBackRest info JSON: %v", err)
	}
	found := false
	for _, st := range info {
		if stanza != "" && st.Name != stanza {
			continue
		}
		found = true
		if st.Status.Lock.Backup.Held {
			return fmt.Sprintf("a backup of stanza %s is running (its backup lock is held)", st.Name), nil
		}
		for _, b := range st.Backup {
			if b.Error != nil && *b.Error {
				continue
			}
			if typ != "" && b.Type != typ {
				continue
			}
			stop := time.Unix(b.Timestamp.Stop, 0)
			if !stop.Before(since) {
				return fmt.Sprintf("backup %s (%s) of stanza %s succeeded at %s, within the lookback", b.Label, b.Type, st.Name, stop.UTC().Format(time.RFC3339)), nil
			}
		}
		// Without a stanza label every stanza listed counts.
	}
	if found {
		return "", nil
	}
	if stanza == "" {
		return "", errors.New("the info command's output lists no stanza")
	}
	return "", fmt.Errorf("stanza %q is not in the info command's output", stanza)
}

func runBackupRetry(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*backupRetryParams)
	argv, err := p.expand(ex.labels, ex.target.Name)
	if err != nil {
		return refused("%v", err)
	}
	stanza, typ := ex.labels["stanza"], ex.labels["type"]
	obj := "backup " + strings.Join(argv, " ")
	if stanza != "" && defaultLabel.MatchString(stanza) {
		obj = "backup of stanza " + stanza
	}
	ex.rec.Object, ex.rec.Statement = truncate(obj, 200), truncate(strings.Join(argv, " "), 1000)
	var check func() *outcome
	if len(p.Info) > 0 {
		infoArgv, err := p.info.expand(ex.labels, ex.target.Name)
		if err != nil {
			return refused("info: %v", err)
		}
		if ex.dryRun {
			// Dry-run runs no program at all, not even one that only reads.
			ex.rec.Detail = truncate("the info command was not run (dry-run): "+strings.Join(infoArgv, " "), 1000)
			return ex.runCommandLocked(ctx, obj, argv, p.Timeout, nil)
		}
		if typ != "" && !defaultLabel.MatchString(typ) {
			typ = ""
		}
		check = func() *outcome {
			out, err := runArgvLimit(ctx, infoArgv, p.info.Timeout, 16<<20)
			if err != nil {
				return ptr(failed(fmt.Errorf("checking the repository: %v: %s", err, truncate(out, 300))))
			}
			why, err := checkRepository([]byte(out), stanza, typ, ex.now.Add(-p.Lookback))
			if err != nil {
				return ptr(failed(err))
			}
			if why != "" {
				return ptr(skipped("%s", why))
			}
			return nil
		}
	}
	return ex.runCommandLocked(ctx, obj, argv, p.Timeout, check)
}
