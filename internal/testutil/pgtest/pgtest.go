package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// DefaultBinDir holds Debian's PostgreSQL 15 binaries.
	DefaultBinDir = "/usr/lib/postgresql/15/bin"
	// BinDirEnv names the environment variable that overrides DefaultBinDir.
	BinDirEnv = "PGTEST_BIN_DIR"

	// InstallDebian installs Debian's PostgreSQL 15 (DefaultBinDir).
	InstallDebian = "make deps (or scripts/install-deps.sh)"
	// InstallMatrix installs PostgreSQL 13 to 18 for use with PGTEST_BIN_DIR.
	InstallMatrix = "scripts/install-pg-matrix.sh"

	// UnprivilegedUID and UnprivilegedGID (nobody/nogroup) run the cluster
	// when the test process runs as root.
	UnprivilegedUID = 65534
	UnprivilegedGID = 65534

	// Superuser is the cluster's bootstrap superuser.
	Superuser = "postgres"

	logName        = "server.log"
	startAttempts  = 3
	pgCtlWaitSecs  = 60
	readyTimeout   = 30 * time.Second
	stopKillWait   = 5 * time.Second
	commandTimeout = 3 * time.Minute
)

// ErrUnavailable is matched (errors.Is) by the error returned when the
// PostgreSQL binaries are missing.
var ErrUnavailable = errors.New("pgtest: PostgreSQL binaries not available")

// UnavailableError reports missing PostgreSQL binaries and how to install them.
type UnavailableError struct {
	BinDir  string // the directory that was searched
	Reason  string // what is missing
	Install string // the command that installs the binaries
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("pgtest: PostgreSQL binaries not available in %s (%s); install them with %s",
		e.BinDir, e.Reason, e.Install)
}

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Options configures a cluster.
type Options struct {
	// Conf holds extra postgresql.conf lines, appended after the harness
	// defaults, e.g. "shared_preload_libraries = 'pg_stat_statements'".
	// listen_addresses, port and unix_socket_directories are always set by
	// the harness.
	Conf []string
	// Logger, when set, receives the whole server log when starting fails
	// or when the tests using the server fail (StartT, RunMain). The log
	// always stays in the data directory until Cleanup, and error messages
	// from failed starts include its last lines.
	Logger io.Writer
	// StandbyOf, when set, makes the cluster a streaming standby of that
	// running server instead of running initdb (see standby.go). Its Conf
	// defaults to the primary's.
	StandbyOf *Server
}

// Server is a running (or stopped) throwaway cluster.
type Server struct {
	BinDir    string
	DataDir   string
	SocketDir string
	Port      int
	Major     int    // server major version, e.g. 15
	Version   string // full server version, e.g. "15.20"

	opts     Options
	baseDir  string // holds DataDir and SocketDir; removed by Cleanup
	logFile  string
	password string
	env      []string
	cred     *syscall.Credential
	baseConf []byte // postgresql.conf as written by initdb

	mu       sync.Mutex
	running  bool
	cleaned  bool
	watchdog *exec.Cmd
	watchIn  io.WriteCloser
}

// configuredBinDir returns the bin dir to use and whether it came from
// BinDirEnv.
func configuredBinDir() (string, bool) {
	if d := os.Getenv(BinDirEnv); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		return d, true
	}
	return DefaultBinDir, false
}

func installHint(fromEnv bool) string {
	if fromEnv {
		return InstallMatrix
	}
	return InstallDebian
}

// Available reports the directory holding initdb, pg_ctl and postgres
// ($PGTEST_BIN_DIR, else DefaultBinDir). When one of them is missing the
// error is an *UnavailableError (errors.Is(err, ErrUnavailable)) that names
// the install command; binDir is still the directory that was searched.
func Available() (binDir string, err error) {
	dir, fromEnv := configuredBinDir()
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		reason := ""
		switch {
		case err != nil:
			reason = fmt.Sprintf("no %s", p)
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			reason = fmt.Sprintf("%s is not an executable file", p)
		}
		if reason != "" {
			return dir, &UnavailableError{BinDir: dir, Reason: reason, Install: installHint(fromEnv)}
		}
	}
	return dir, nil
}

// Start creates and starts a cluster. On failure everything created so far
// is removed and the error carries the commands' output and the tail of the
// server log. Missing binaries give an *UnavailableError.
func Start(opts Options) (*Server, error) {
	dir, err := Available()
	if err != nil {
		return nil, err
	}
	opts.Conf = append([]string(nil), opts.Conf...)
	s := &Server{BinDir: dir, opts: opts}
	if err := s.setup(); err != nil {
		if opts.Logger != nil {
			s.copyLog(opts.Logger)
		}
		s.Cleanup()
		return nil, err
	}
	return s, nil
}

func (s *Server) setup() error {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return fmt.Errorf("pgtest: random password: %w", err)
	}
	s.password = hex.EncodeToString(pw)
	if os.Geteuid() == 0 {
		s.cred = &syscall.Credential{Uid: UnprivilegedUID, Gid: UnprivilegedGID}
	}

	base, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: temp dir: %w", err)
	}
	s.baseDir = base // set before anything else can fail, so Cleanup removes it
	if real, err := filepath.EvalSymlinks(base); err == nil {
		base = real
		s.baseDir = real
	}
	s.DataDir = filepath.Join(base, "data")
	s.SocketDir = filepath.Join(base, "sock")
	s.logFile = filepath.Join(s.DataDir, logName)

	if err := s.startWatchdog(); err != nil {
		return err
	}
	if err := os.Chmod(base, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := s.chown(base); err != nil {
		return err
	}
	if err := s.checkReachable(base); err != nil {
		return err
	}
	// Unix socket paths are limited to 107 bytes.
	if n := len(filepath.Join(s.SocketDir, ".s.PGSQL.65535")); n > 107 {
		return fmt.Errorf("pgtest: socket path under %s would be %d bytes, more than the 107 allowed; "+
			"point TMPDIR at a shorter directory such as /tmp", s.SocketDir, n)
	}
	if err := os.Mkdir(s.SocketDir, 0o700); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := s.chown(s.SocketDir); err != nil {
		return err
	}

	if err := s.probe(); err != nil {
		return err
	}
	create := s.initdb
	if s.opts.StandbyOf != nil {
		create = s.cloneFrom
	}
	if err := create(); err != nil {
		return err
	}

	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port, err := pickPort()
		if err != nil {
			return err
		}
		s.Port = port
		if err := s.writeConf(); err != nil {
			return err
		}
		logStart := s.logSize()
		lastErr = s.pgCtlStart()
		if lastErr == nil {
			break
		}
		// A failed start must not leave a postmaster behind before retrying.
		s.forceStop()
		if !portClash(s.logSince(logStart)) {
			return lastErr
		}
	}
	if lastErr != nil {
		return fmt.Errorf("pgtest: no free port after %d attempts: %w", startAttempts, lastErr)
	}
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	return s.waitReady()
}

// checkReachable verifies that the unprivileged user can reach dir, which it
// owns, through dir's ancestors.
func (s *Server) checkReachable(dir string) error {
	if s.cred == nil {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("pgtest: %s is not searchable by uid %d, which runs the server because the tests run as root; "+
				"point TMPDIR at a world-searchable directory such as /tmp", p, UnprivilegedUID)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func (s *Server) chown(path string) error {
	if s.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// childEnv is the environment for the PostgreSQL programs: the test
// process's, without PG* variables that could redirect them, with HOME set
// to the temp dir and libDir (if any) in front of LD_LIBRARY_PATH.
func (s *Server) childEnv(libDir string) []string {
	var env []string
	ldPath := ""
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), k == "HOME":
			continue
		case k == "LD_LIBRARY_PATH":
			ldPath = v
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+s.baseDir)
	if libDir != "" {
		if ldPath != "" {
			ldPath = libDir + string(os.PathListSeparator) + ldPath
		} else {
			ldPath = libDir
		}
	}
	if ldPath != "" {
		env = append(env, "LD_LIBRARY_PATH="+ldPath)
	}
	return env
}

// command builds a PostgreSQL program invocation running as the cluster's
// user in the temp dir, with its output collected in the returned buffer.
func (s *Server) command(ctx context.Context, name string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.BinDir, name), args...)
	cmd.Env = s.env
	cmd.Dir = s.baseDir
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd, &out
}

// run runs a PostgreSQL program and returns its combined output; the error
// includes the command line and the output.
func (s *Server) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd, out := s.command(ctx, name, args...)
	err := cmd.Run()
	text := out.String()
	if err != nil {
		return text, fmt.Errorf("pgtest: %s %s: %w\n%s", name, strings.Join(args, " "), err, indent(text))
	}
	return text, nil
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (([0-9]+)\S*)`)

// probe runs the binaries once to learn the version and how they find their
// shared libraries. Binaries that carry no usable RUNPATH get <bindir>/../lib
// on LD_LIBRARY_PATH.
func (s *Server) probe() error {
	s.env = s.childEnv("")
	out, err := s.run("postgres", "--version")
	triedLib := ""
	if err != nil && strings.Contains(out, "error while loading shared libraries") {
		libDir := filepath.Join(filepath.Dir(s.BinDir), "lib")
		if fi, statErr := os.Stat(libDir); statErr == nil && fi.IsDir() {
			triedLib = libDir
			s.env = s.childEnv(libDir)
			if out2, err2 := s.run("postgres", "--version"); err2 == nil {
				out, err = out2, nil
			}
		}
	}
	if err != nil {
		if triedLib != "" {
			err = fmt.Errorf("%w\n(it fails with LD_LIBRARY_PATH=%s too)", err, triedLib)
		}
		return s.probeError(out, err)
	}
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return fmt.Errorf("pgtest: cannot parse %q from %s", strings.TrimSpace(out), filepath.Join(s.BinDir, "postgres --version"))
	}
	s.Version = m[1]
	s.Major, _ = strconv.Atoi(m[2])
	for _, name := range []string{"initdb", "pg_ctl"} {
		if out, err := s.run(name, "--version"); err != nil {
			return s.probeError(out, err)
		}
	}
	return nil
}

func (s *Server) probeError(out string, err error) error {
	var hints []string
	if strings.Contains(out, "error while loading shared libraries") {
		if _, statErr := os.Stat(filepath.Join(filepath.Dir(s.BinDir), "pg-symlinks.json")); statErr == nil {
			hints = append(hints, "the library symlinks listed in pg-symlinks.json are missing; reinstall with "+InstallMatrix)
		}
	}
	if s.cred != nil {
		hints = append(hints, fmt.Sprintf("the binaries and their libraries must be readable and executable by uid %d", UnprivilegedUID))
	}
	if len(hints) == 0 {
		return err
	}
	return fmt.Errorf("%w\nhint: %s", err, strings.Join(hints, "; "))
}

func (s *Server) initdb() error {
	pwfile := filepath.Join(s.baseDir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer os.Remove(pwfile)
	if err := s.chown(pwfile); err != nil {
		return err
	}
	if _, err := s.run("initdb",
		"-D", s.DataDir,
		"-U", Superuser,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--pwfile="+pwfile,
		"-E", "UTF8",
		"--locale=C",
		"--no-sync",
	); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "PG_VERSION")); err == nil {
		if major, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			s.Major = major
		}
	}
	conf, err := os.ReadFile(filepath.Join(s.DataDir, "postgresql.conf"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.baseConf = conf
	return nil
}

// writeConf rewrites postgresql.conf: initdb's file, the harness defaults,
// Options.Conf, then the connection settings, so later lines win.
func (s *Server) writeConf() error {
	var b bytes.Buffer
	b.Write(s.baseConf)
	b.WriteString("\n# pgtest defaults\n")
	for _, l := range []string{
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 100",
		"logging_collector = off",
		"password_encryption = 'scram-sha-256'",
	} {
		b.WriteString(l + "\n")
	}
	if len(s.opts.Conf) > 0 {
		b.WriteString("# pgtest Options.Conf\n")
		for _, l := range s.opts.Conf {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("# pgtest connection settings\n")
	b.WriteString("listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", s.Port)
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", confQuote(s.SocketDir))
	path := filepath.Join(s.DataDir, "postgresql.conf")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return s.chown(path)
}

func confQuote(v string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", "''") + "'"
}

// pickPort is freePort; tests replace it to provoke port clashes.
var pickPort = freePort

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portClash(text string) bool {
	for _, s := range []string{"Address already in use", "could not bind IPv4", "could not create any TCP/IP sockets"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

func (s *Server) pgCtlStart() error {
	_, err := s.run("pg_ctl", "start",
		"-D", s.DataDir,
		"-l", s.logFile,
		"-w", "-t", strconv.Itoa(pgCtlWaitSecs),
	)
	if err != nil {
		return fmt.Errorf("%w\nserver log (%s), last lines:\n%s", err, s.logFile, indent(s.LogTail(30)))
	}
	return nil
}

// waitReady waits until a superuser connection over TCP works.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var conn *pgx.Conn
		conn, err = s.Connect(ctx, "postgres")
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pgtest: server on port %d did not accept connections within %s: %w\nserver log (%s), last lines:\n%s",
		s.Port, readyTimeout, err, s.logFile, indent(s.LogTail(30)))
}

// StopServer stops the server (pg_ctl stop -m fast, harder if that fails)
// and keeps its data, so tests can see the server go away. It does nothing
// if no postmaster is running.
func (s *Server) StopServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleaned {
		return errors.New("pgtest: StopServer after Cleanup")
	}
	if !s.postmasterAlive() {
		s.running = false
		return nil
	}
	if _, err := s.run("pg_ctl", "stop", "-D", s.DataDir, "-m", "fast", "-w", "-t", strconv.Itoa(pgCtlWaitSecs)); err != nil {
		s.forceStop()
		if s.postmasterAlive() {
			return err
		}
	}
	s.running = false
	return nil
}

// StartServer starts a stopped server again on the same port and socket
// directory and waits until it accepts connections. It does nothing if the
// server is running; it also restarts a server that died on its own.
func (s *Server) StartServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleaned {
		return errors.New("pgtest: StartServer after Cleanup")
	}
	if s.running && s.postmasterAlive() {
		return nil
	}
	if err := s.pgCtlStart(); err != nil {
		s.forceStop()
		return err
	}
	s.running = true
	return s.waitReady()
}

// Cleanup stops the server (fast, then immediate, then by signalling the
// postmaster) and removes every directory the harness created. It is
// idempotent, safe on a nil or half-started Server, and safe to call from
// several goroutines.
func (s *Server) Cleanup() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleaned {
		return
	}
	s.cleaned = true
	s.running = false
	if s.DataDir != "" {
		if _, err := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); err == nil && s.env != nil {
			if _, err := s.run("pg_ctl", "stop", "-D", s.DataDir, "-m", "fast", "-w", "-t", "30"); err != nil {
				s.forceStop()
			}
		}
		s.killPostmaster()
	}
	if s.baseDir != "" {
		if err := os.RemoveAll(s.baseDir); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: cleanup: %v\n", err)
		}
	}
	s.stopWatchdog()
}

// forceStop tries an immediate shutdown, then signals the postmaster.
func (s *Server) forceStop() {
	if s.env != nil {
		if _, err := os.Stat(filepath.Join(s.DataDir, "postmaster.pid")); err == nil {
			_, _ = s.run("pg_ctl", "stop", "-D", s.DataDir, "-m", "immediate", "-w", "-t", "15")
		}
	}
	s.killPostmaster()
}

// PID returns the postmaster's pid from postmaster.pid, or 0.
func (s *Server) PID() int {
	if s == nil || s.DataDir == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// postmasterAlive reports whether the pid in postmaster.pid is a live
// process whose working directory is this cluster's data directory.
func (s *Server) postmasterAlive() bool {
	pid := s.PID()
	return pid > 0 && isPostmasterOf(pid, s.DataDir)
}

func isPostmasterOf(pid int, dataDir string) bool {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false // gone, or a zombie
		}
		// No /proc access: fall back to "the process exists".
		return syscall.Kill(pid, 0) == nil
	}
	return cwd == dataDir
}

// killPostmaster sends SIGQUIT (immediate shutdown) to a postmaster that is
// still running, then SIGKILL if it does not exit in time.
func (s *Server) killPostmaster() {
	pid := s.PID()
	if pid <= 0 || !isPostmasterOf(pid, s.DataDir) {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGKILL} {
		_ = syscall.Kill(pid, sig)
		deadline := time.Now().Add(stopKillWait)
		for time.Now().Before(deadline) {
			if !isPostmasterOf(pid, s.DataDir) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// watchdogScript removes the cluster if the test process dies without
// calling Cleanup: it waits for its stdin to reach EOF (the write end is
// held only by the test process) and stops when told "done" instead.
const watchdogScript = `
trap '' INT TERM HUP PIPE
read -r cmd
[ "$cmd" = done ] && exit 0
data=$1 base=$2
pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ]; then
	kill -QUIT "$pid" 2>/dev/null
	i=0
	while [ $i -lt 50 ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null
fi
case $base in
*/pgtest-*) rm -rf "$base" ;;
esac
`

func (s *Server) startWatchdog() error {
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog", s.DataDir, s.baseDir)
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	// Own process group: an interrupt aimed at the test run must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		in.Close()
		return fmt.Errorf("pgtest: watchdog: %w", err)
	}
	s.watchdog, s.watchIn = cmd, in
	return nil
}

func (s *Server) stopWatchdog() {
	if s.watchdog == nil {
		return
	}
	_, _ = io.WriteString(s.watchIn, "done\n")
	_ = s.watchIn.Close()
	done := make(chan struct{})
	go func() {
		_ = s.watchdog.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.watchdog.Process.Kill()
		<-done
	}
	s.watchdog, s.watchIn = nil, nil
}

// LogPath returns the server log file (inside DataDir).
func (s *Server) LogPath() string { return s.logFile }

// LogTail returns the last n lines of the server log ("" if there is none).
func (s *Server) LogTail(n int) string {
	if s == nil || s.logFile == "" || n <= 0 {
		return ""
	}
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) logSize() int64 {
	fi, err := os.Stat(s.logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns the server log from byte offset off on.
func (s *Server) logSince(off int64) string {
	b, err := os.ReadFile(s.logFile)
	if err != nil || off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// copyLog writes the whole server log to w.
func (s *Server) copyLog(w io.Writer) {
	if s == nil || s.logFile == "" {
		return
	}
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "---- pgtest: server log %s ----\n", s.logFile)
	_, _ = w.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "---- pgtest: end of server log ----")
}

func indent(text string) string {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(text, "\n", "\n    ")
}
