package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// RecordOptions describe one wrapped run.
type RecordOptions struct {
	Dir       string   // the manifest directory
	Kind      string   // backup, verify or restore_test
	Stanza    string   // groups records; optional
	Type      string   // backup type (full, diff, incr, wal, ...); required for kind backup
	Label     string   // free text, e.g. the backup's name
	SizeFrom  string   // a file or directory whose size is the backup's size, measured after the run
	Encrypted *bool    // whether the backup is encrypted, when the caller knows
	Argv      []string // the command to run; no shell
	Stdout    io.Writer
	Stderr    io.Writer
	// Signals, if set, replaces os/signal for tests: received signals are
	// forwarded to the child.
	Signals chan os.Signal
}

// forwarded are the signals passed on to the wrapped command, so stopping the
// wrapper (cron, systemd, an operator's kill) stops the backup too and the
// run is recorded as failed.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// RunAndRecord runs the command, writes a manifest record of its outcome and
// returns the exit code to leave with: the command's own, 128+signal when a
// signal ended it, 126/127 when it could not be started. A record that
// cannot be written is reported on Stderr and, when the command succeeded,
// turns the exit code into 1: a backup nobody can see is not a success for
// monitoring.
func RunAndRecord(o RecordOptions) int {
	if err := o.check(); err != nil {
		fmt.Fprintf(o.Stderr, "backup-record: %v\n", err)
		return 2
	}
	start := time.Now()
	cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
	cmd.Stdin = os.Stdin
	cmd.Stdout = o.Stdout
	errTail := &cappedBuffer{max: maxStderr, tail: true}
	cmd.Stderr = io.MultiWriter(o.Stderr, errTail)
	// Its own process group: a terminal's Ctrl-C reaches the wrapper only, which
	// forwards it once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	sigs := o.Signals
	if sigs == nil {
		sigs = make(chan os.Signal, 4)
		signal.Notify(sigs, forwarded...)
		defer signal.Stop(sigs)
	}
	code, runErr := 0, ""
	if err := cmd.Start(); err != nil {
		code, runErr = 127, err.Error()
		if errors.Is(err, fs.ErrPermission) {
			code = 126
		}
	} else {
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		var err error
	wait:
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case err = <-waited:
				break wait
			}
		}
		code, runErr = exitCode(cmd, err)
		if runErr == "" && code != 0 {
			runErr = lastLine(errTail.buf.String())
		}
	}
	end := time.Now()

	rec := &Record{
		FormatVersion: ManifestVersion,
		Kind:          o.Kind,
		Stanza:        o.Stanza,
		Type:          o.Type,
		Status:        StatusSuccess,
		StartTime:     start.UTC().Format(time.RFC3339Nano),
		EndTime:       end.UTC().Format(time.RFC3339Nano),
		ExitCode:      &code,
		Encrypted:     o.Encrypted,
		Label:         o.Label,
		Tool:          filepath.Base(o.Argv[0]),
		Error:         oneLine(runErr),
	}
	if host, err := os.Hostname(); err == nil {
		rec.Host = host
	}
	if code != 0 {
		rec.Status = StatusFailure
		if rec.Error == "" {
			rec.Error = fmt.Sprintf("exit status %d", code)
		}
	} else if o.SizeFrom != "" {
		size, err := pathSize(o.SizeFrom)
		if err != nil {
			fmt.Fprintf(o.Stderr, "backup-record: size of %s not recorded: %v\n", o.SizeFrom, err)
		} else {
			rec.SizeBytes = &size
		}
	}
	if _, err := WriteRecord(o.Dir, rec); err != nil {
		fmt.Fprintf(o.Stderr, "backup-record: %v\n", err)
		if code == 0 {
			return 1
		}
	}
	return code
}

func (o *RecordOptions) check() error {
	if len(o.Argv) == 0 {
		return errors.New("no command given; put it after --, e.g. backup-record --type=full -- pgbackrest --stanza=main backup")
	}
	if o.Dir == "" {
		return errors.New("no manifest directory given; set --manifest.dir")
	}
	fi, err := os.Stat(o.Dir)
	if err != nil {
		return fmt.Errorf("manifest directory: %w; create it (writable by this user) first", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("manifest directory %s is not a directory", o.Dir)
	}
	if o.Kind == "" {
		o.Kind = KindBackup
	}
	// Validate what the command line decides before the backup runs, so a
	// typo does not cost a backup's worth of time.
	probe := Record{FormatVersion: ManifestVersion, Kind: o.Kind, Stanza: o.Stanza, Type: o.Type, Status: StatusSuccess,
		EndTime: time.Now().UTC().Format(time.RFC3339)}
	if err := probe.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	return nil
}

func exitCode(cmd *exec.Cmd, err error) (int, string) {
	if err == nil {
		return 0, ""
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), "killed by signal: " + ws.Signal().String()
		}
		return ee.ExitCode(), ""
	}
	return 1, err.Error()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// pathSize is a file's size or the total size of the regular files under a directory.
func pathSize(path string) (float64, error) {
	var total int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	return float64(total), err
}
