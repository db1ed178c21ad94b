package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

const (
	// maxStdout bounds what a listing may print; pgBackRest's info for years
	// of backups stays far below it.
	maxStdout = 32 << 20
	// maxStderr keeps the tail of the tool's error output for the log.
	maxStderr = 4 << 10
)

// cappedBuffer keeps at most max bytes and remembers that it overflowed.
type cappedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
	tail     bool // keep the last bytes instead of the first
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if c.tail {
		c.buf.Write(p)
		if c.buf.Len() > c.max {
			b := c.buf.Bytes()
			keep := append([]byte(nil), b[len(b)-c.max:]...)
			c.buf.Reset()
			c.buf.Write(keep)
			c.overflow = true
		}
		return n, nil
	}
	if room := c.max - c.buf.Len(); room < len(p) {
		c.overflow = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return n, nil
	}
	c.buf.Write(p)
	return n, nil
}

// runTool runs argv (no shell) with a timeout and returns its standard
// output. The tool runs in its own process group, so a timeout also ends
// whatever it started. A failure's error carries the exit status and the
// tool's standard error folded onto one line.
func runTool(ctx context.Context, argv []string, timeout time.Duration) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("empty command")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	stdout := &cappedBuffer{max: maxStdout}
	stderr := &cappedBuffer{max: maxStderr, tail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The negative pid signals the whole group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	msg := oneLine(stderr.buf.String())
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s did not finish within %s (timeout); stderr: %s", argv[0], timeout, orNone(msg))
	case err != nil:
		return nil, fmt.Errorf("%s failed: %v; stderr: %s", argv[0], err, orNone(msg))
	case stdout.overflow:
		return nil, fmt.Errorf("%s printed more than %d bytes; its output was not read", argv[0], maxStdout)
	}
	return stdout.buf.Bytes(), nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
