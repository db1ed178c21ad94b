package remediate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// argvSpec is a command as an argv array. Arguments may contain {label}
// placeholders (and {target}, the target's name); each value is checked
// against a pattern before it is substituted, and the result is passed to
// execve directly: no shell ever sees it.
type argvSpec struct {
	Command []string `yaml:"command"`
	// LabelPatterns overrides defaultLabelPattern per label (anchored).
	LabelPatterns map[string]string `yaml:"label_patterns"`
	Timeout       time.Duration     `yaml:"timeout"`

	patterns map[string]*regexp.Regexp
}

// defaultLabelPattern admits names such as stanzas, backup types and hosts;
// it rejects '/', "..", spaces, quotes, shell characters and a leading '-',
// which a program would read as an option.
const defaultLabelPattern = `[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}`

var (
	placeholderRE = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\}`)
	defaultLabel  = regexp.MustCompile(`^(?:` + defaultLabelPattern + `)$`)
)

func (a *argvSpec) validate(field string, defTimeout time.Duration) error {
	if len(a.Command) == 0 || a.Command[0] == "" {
		return fmt.Errorf("%s is empty; give the program and its arguments as a list", field)
	}
	if placeholderRE.MatchString(a.Command[0]) {
		return fmt.Errorf("%s: the program (%q) must be fixed, not taken from a label", field, a.Command[0])
	}
	if a.Timeout == 0 {
		a.Timeout = defTimeout
	}
	if a.Timeout < 0 {
		return fmt.Errorf("timeout must not be negative")
	}
	a.patterns = map[string]*regexp.Regexp{}
	for k, p := range a.LabelPatterns {
		re, err := optionalRE(p)
		if err != nil || re == nil {
			return fmt.Errorf("label_patterns.%s: %q is not a valid, non-empty regular expression", k, p)
		}
		a.patterns[k] = re
	}
	return nil
}

// expand fills in the placeholders, refusing values that do not match.
func (a *argvSpec) expand(labels map[string]string, targetName string) ([]string, error) {
	out := make([]string, len(a.Command))
	var bad error
	for i, arg := range a.Command {
		out[i] = placeholderRE.ReplaceAllStringFunc(arg, func(m string) string {
			name := m[1 : len(m)-1]
			v, ok := labels[name]
			if name == "target" && targetName != "" {
				v, ok = targetName, true
			}
			if !ok || v == "" {
				if bad == nil {
					bad = fmt.Errorf("the command needs the label %s, which the alert does not have", name)
				}
				return ""
			}
			re := a.patterns[name]
			if re == nil {
				re = defaultLabel
			}
			if !re.MatchString(v) {
				if bad == nil {
					bad = fmt.Errorf("label %s value %q does not match the pattern %s", name, truncate(v, 80), strings.TrimSuffix(strings.TrimPrefix(re.String(), "^(?:"), ")$"))
				}
				return ""
			}
			return v
		})
	}
	return out, bad
}

// maxOutput bounds the command output kept for the audit log.
const maxOutput = 2048

// runArgv runs argv with a timeout, in its own process group so that a
// timeout also ends its children, and returns the tail of its output.
func runArgv(ctx context.Context, argv []string, timeout time.Duration) (string, error) {
	return runArgvLimit(ctx, argv, timeout, maxOutput)
}

func runArgvLimit(ctx context.Context, argv []string, timeout time.Duration, limit int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	tail := out.Bytes()
	if len(tail) > limit {
		tail = tail[len(tail)-limit:]
	}
	text := strings.TrimSpace(string(bytes.ToValidUTF8(tail, []byte("?"))))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return text, fmt.Errorf("%s timed out after %s", argv[0], timeout)
	}
	if err != nil {
		return text, fmt.Errorf("%s: %w", argv[0], err)
	}
	return text, nil
}
