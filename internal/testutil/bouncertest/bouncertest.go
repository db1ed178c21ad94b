// Package bouncertest starts real PgBouncers for integration tests, in front
// of a test PostgreSQL (internal/testutil/pgtest).
//
// Each PgBouncer gets a generated pgbouncer.ini, an auth_file and its log in a
// fresh temporary directory, listens on 127.0.0.1 on a free port, and maps
// every database name to the same database upstream. Clients authenticate
// with scram-sha-256 against the auth_file, which holds the passwords in
// plain text so PgBouncer can log in upstream with them too.
//
// The binary is $PGBOUNCER_BIN or Debian's /usr/sbin/pgbouncer (`apt-get
// install pgbouncer`, or `make deps`). PgBouncer refuses to run as root: when
// the tests run as root, it runs as uid/gid 65534. When the binary is missing,
// StartT skips the test naming the install command (fails it with CI=true).
package bouncertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

// BinEnv names another pgbouncer binary.
const BinEnv = "PGBOUNCER_BIN"

// DefaultBin is Debian's pgbouncer.
const DefaultBin = "/usr/sbin/pgbouncer"

// InstallHint is how to get the binary.
const InstallHint = "apt-get install pgbouncer (or make deps)"

// ErrUnavailable means the pgbouncer binary is missing.
var ErrUnavailable = errors.New("bouncertest: pgbouncer binary not available")

// Options describe one PgBouncer.
type Options struct {
	// UpstreamHost and UpstreamPort locate PostgreSQL (default 127.0.0.1).
	UpstreamHost string
	UpstreamPort int
	// Users are the auth_file entries: user name -> password.
	Users map[string]string
	// AdminUsers may run every SHOW command on the admin console.
	AdminUsers []string
	// PoolMode is session, transaction (the default) or statement.
	PoolMode string
	// PoolSize is default_pool_size (default 5).
	PoolSize int
	// Extra holds more [pgbouncer] section lines, e.g. "max_client_conn = 50".
	Extra []string
}

// Bouncer is a running (or stopped) PgBouncer.
type Bouncer struct {
	Port int
	Dir  string
	Bin  string

	opts Options
	cred *syscall.Credential

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	waitCh chan error
}

// Available returns the binary to use, or an error wrapping ErrUnavailable.
func Available() (string, error) {
	bin := os.Getenv(BinEnv)
	if bin == "" {
		bin = DefaultBin
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%w at %s: %v; install it with %s", ErrUnavailable, bin, err, InstallHint)
	}
	return bin, nil
}

// StartT starts a PgBouncer for one test and stops it when the test ends.
// A missing binary skips the test (fails it with CI=true); -short skips it.
func StartT(tb testing.TB, opts Options) *Bouncer {
	tb.Helper()
	pgtest.Integration(tb)
	b, err := Start(opts)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			pgtest.Skip(tb, "pgbouncer", InstallHint)
		}
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("bouncertest: pgbouncer on port %d, log:\n%s", b.Port, b.Log())
		}
		b.Cleanup()
	})
	return b
}

// Start writes the configuration and starts PgBouncer, returning once its
// admin console answers.
func Start(opts Options) (*Bouncer, error) {
	bin, err := Available()
	if err != nil {
		return nil, err
	}
	if opts.UpstreamHost == "" {
		opts.UpstreamHost = "127.0.0.1"
	}
	if opts.PoolMode == "" {
		opts.PoolMode = "transaction"
	}
	if opts.PoolSize == 0 {
		opts.PoolSize = 5
	}
	if len(opts.AdminUsers) == 0 {
		return nil, errors.New("bouncertest: Options.AdminUsers is empty; name a user of Options.Users")
	}
	dir, err := os.MkdirTemp("", "bouncertest-")
	if err != nil {
		return nil, err
	}
	b := &Bouncer{Dir: dir, Bin: bin, opts: opts}
	if os.Geteuid() == 0 {
		b.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	for attempt := 0; ; attempt++ {
		if b.Port, err = freePort(); err == nil {
			if err = b.writeConfig(); err == nil {
				err = b.StartServer()
			}
		}
		if err == nil {
			return b, nil
		}
		if attempt == 2 || !strings.Contains(b.Log(), "Address already in use") {
			b.Cleanup()
			return nil, err
		}
	}
}

func (b *Bouncer) writeConfig() error {
	var users []string
	for u := range b.opts.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	var auth strings.Builder
	for _, u := range users {
		fmt.Fprintf(&auth, "%s %s\n", quote(u), quote(b.opts.Users[u]))
	}
	ini := fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir = %s
auth_type = scram-sha-256
auth_file = %s
admin_users = %s
pool_mode = %s
default_pool_size = %d
logfile = %s
pidfile = %s
ignore_startup_parameters = extra_float_digits
%s
`, b.opts.UpstreamHost, b.opts.UpstreamPort, b.Port, b.Dir, filepath.Join(b.Dir, "userlist.txt"),
		strings.Join(b.opts.AdminUsers, ","), b.opts.PoolMode, b.opts.PoolSize,
		filepath.Join(b.Dir, "pgbouncer.log"), filepath.Join(b.Dir, "pgbouncer.pid"), strings.Join(b.opts.Extra, "\n"))
	for name, content := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": auth.String()} {
		if err := os.WriteFile(filepath.Join(b.Dir, name), []byte(content), 0o600); err != nil {
			return err
		}
	}
	if b.cred != nil {
		for _, p := range []string{b.Dir, filepath.Join(b.Dir, "pgbouncer.ini"), filepath.Join(b.Dir, "userlist.txt")} {
			if err := os.Chown(p, int(b.cred.Uid), int(b.cred.Gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// quote writes an auth_file field: double quotes, doubled inside.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer starts PgBouncer (again) on its port and waits until the
// admin console answers.
func (b *Bouncer) StartServer() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("bouncertest: already running")
	}
	cmd := exec.Command(b.Bin, filepath.Join(b.Dir, "pgbouncer.ini"))
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = b.Dir
	// Pdeathsig stops PgBouncer if the test binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: b.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("bouncertest: starting %s: %w", b.Bin, err)
	}
	b.cmd, b.out = cmd, out
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			b.cmd = nil
			return fmt.Errorf("bouncertest: pgbouncer exited at start (%v):\n%s%s", err, out.String(), b.logLocked())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		lastErr = b.ping(ctx)
		cancel()
		if lastErr == nil {
			// Reap in the background; Stop waits on the same channel.
			b.waitCh = exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-exited
	b.cmd = nil
	return fmt.Errorf("bouncertest: pgbouncer did not answer within 10s (%v):\n%s", lastErr, b.logLocked())
}

func (b *Bouncer) ping(ctx context.Context) error {
	admin := b.opts.AdminUsers[0]
	cfg, err := pgx.ParseConfig(b.DSN(admin, b.opts.Users[admin], "pgbouncer"))
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SHOW VERSION")
	return err
}

// StopServer stops PgBouncer at once (SIGTERM, then SIGKILL after 5s).
func (b *Bouncer) StopServer() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.waitCh:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.waitCh
	}
	b.cmd = nil
	return nil
}

// Cleanup stops PgBouncer and removes its directory.
func (b *Bouncer) Cleanup() {
	_ = b.StopServer()
	_ = os.RemoveAll(b.Dir)
}

// DSN is a URL for user on database db through this PgBouncer.
func (b *Bouncer) DSN(user, password, db string) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// AdminDSN is the DSN of the first admin user on the admin console.
func (b *Bouncer) AdminDSN() string {
	admin := b.opts.AdminUsers[0]
	return b.DSN(admin, b.opts.Users[admin], "pgbouncer")
}

// Log returns PgBouncer's log file and console output.
func (b *Bouncer) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logLocked()
}

func (b *Bouncer) logLocked() string {
	data, _ := os.ReadFile(filepath.Join(b.Dir, "pgbouncer.log"))
	s := string(data)
	if b.out != nil {
		s += b.out.String()
	}
	return s
}
