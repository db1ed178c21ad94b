package exporter_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// wireRecorder listens like a PostgreSQL server and records what clients
// send it: their startup parameters and their passwords, which it asks for
// in clear text. It stands in for a server only where the question is
// what arrives at a host, which a real server does not tell.
type wireRecorder struct {
	ln   net.Listener
	port int

	mu        sync.Mutex
	startups  []map[string]string
	passwords []string
}

func newWireRecorder(t *testing.T) *wireRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireRecorder{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go w.serve(c)
		}
	}()
	return w
}

func (w *wireRecorder) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(c, c)
	msg, err := be.ReceiveStartupMessage()
	if _, ok := msg.(*pgproto3.SSLRequest); ok && err == nil {
		if _, err := c.Write([]byte("N")); err != nil {
			return
		}
		msg, err = be.ReceiveStartupMessage()
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if err != nil || !ok {
		return
	}
	w.mu.Lock()
	w.startups = append(w.startups, sm.Parameters)
	w.mu.Unlock()
	be.Send(&pgproto3.AuthenticationCleartextPassword{})
	if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
		return
	}
	msg, err = be.Receive()
	if pm, ok := msg.(*pgproto3.PasswordMessage); ok && err == nil {
		w.mu.Lock()
		w.passwords = append(w.passwords, pm.Password)
		w.mu.Unlock()
	}
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: "password authentication failed"})
	_ = be.Flush()
}

// seen returns what arrived so far.
func (w *wireRecorder) seen() (startups []map[string]string, passwords []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append(startups, w.startups...), append(passwords, w.passwords...)
}

// An auth module's password goes only to the hosts and ports its
// allowed_targets list: a probe of any other address is refused before a
// connection is opened, and the refusal shows neither the module's user name
// nor its files.
func TestProbeSendsTheModulePasswordOnlyToListedTargets(t *testing.T) {
	rec := newWireRecorder(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("Fake-Pw-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	module := func(name, allowed string) string {
		return fmt.Sprintf("  %s:\n    type: userpass\n    userpass: {username: probe_user_%s, password_file: %s}\n    options: {sslmode: disable}\n%s", name, name, pwFile, allowed)
	}
	cfg := "auth_modules:\n" +
		module("unlisted", "") +
		module("otherhost", "    allowed_targets: {hosts: [db.example.internal], ports: ["+fmt.Sprint(rec.port)+"]}\n") +
		module("otherport", "    allowed_targets: {hosts: [127.0.0.1], ports: [5432]}\n") +
		module("byname", "    allowed_targets: {hosts: [localhost], ports: ["+fmt.Sprint(rec.port)+"]}\n") +
		module("listed", "    allowed_targets: {hosts: [127.0.0.0/8], ports: ["+fmt.Sprint(rec.port)+"]}\n")
	h := start(t, cfg, "")
	addr := fmt.Sprintf("127.0.0.1:%d/postgres", rec.port)
	for module, want := range map[string]string{
		"unlisted":  `auth module "unlisted" lists no allowed_targets`,
		"otherhost": fmt.Sprintf(`auth module "otherhost" may not be used for 127.0.0.1 port %d`, rec.port),
		"otherport": fmt.Sprintf(`auth module "otherport" may not be used for 127.0.0.1 port %d`, rec.port),
		"byname":    fmt.Sprintf(`auth module "byname" may not be used for 127.0.0.1 port %d`, rec.port),
	} {
		code, _, body, _ := h.get(t, "/probe?target="+addr+"&auth_module="+module, 5*time.Second)
		if code != http.StatusForbidden || !strings.Contains(body, want) || !strings.Contains(body, "allowed_targets in "+h.cfgPath) {
			t.Errorf("%s: %d %q, want 403 containing %q and where to list the target", module, code, body, want)
		}
		if strings.Contains(body, "probe_user_") || strings.Contains(body, pwFile) {
			t.Errorf("%s: the refusal shows the module's user or files: %q", module, body)
		}
	}
	if startups, passwords := rec.seen(); len(startups) != 0 || len(passwords) != 0 {
		t.Fatalf("refused probes reached the host: %d connections, passwords %q", len(startups), passwords)
	}

	// A listed host gets the module's user and password, and nothing else does.
	code, mfs, body, _ := h.get(t, "/probe?target="+addr+"&auth_module=listed", 5*time.Second)
	if code != http.StatusOK || mustUp(mfs) != 0 {
		t.Fatalf("listed target: %d %q, want 200 with pg_up 0 (the recorder refuses every login)", code, body)
	}
	startups, passwords := rec.seen()
	if len(passwords) == 0 || len(startups) == 0 {
		t.Fatal("the listed host received no login")
	}
	for i, s := range startups {
		if s["user"] != "probe_user_listed" || s["database"] != "postgres" {
			t.Errorf("login %d: user %q database %q, want the listed module's user on postgres", i, s["user"], s["database"])
		}
	}
	for _, p := range passwords {
		if p != "Fake-Pw-1" {
			t.Errorf("the listed host received password %q, want the module's", p)
		}
	}

	// A module whose password file went away answers 500 with a body that
	// says nothing about the file, the user or the target.
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	other := fmt.Sprintf("127.0.0.2:%d/postgres", rec.port)
	code, _, body, _ = h.get(t, "/probe?target="+other+"&auth_module=listed", 5*time.Second)
	if code != http.StatusInternalServerError || strings.Contains(body, pwFile) || strings.Contains(body, "no such file") || strings.Contains(body, "probe_user_") {
		t.Fatalf("unreadable password file: %d %q, want 500 naming nothing", code, body)
	}
}

// Address targets probed through an auth module cannot close the pools of
// configured targets, however many addresses are probed.
func TestAddressProbesDoNotEvictConfiguredTargets(t *testing.T) {
	rec := newWireRecorder(t)
	cfg := fmt.Sprintf(`max_targets: 2
targets:
  - {name: conf, dsn: "postgres://u@127.0.0.1:%d/x?sslmode=disable"}
auth_modules:
  m:
    type: userpass
    userpass: {username: u, password: p}
    options: {sslmode: disable}
    allowed_targets: {hosts: [127.0.0.0/8], ports: [%d]}
`, rec.port, rec.port)
	h := start(t, cfg, "")
	conf, err := h.mgr.Probe("conf", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if code, _, body, _ := h.get(t, fmt.Sprintf("/probe?target=127.0.0.%d:%d/x&auth_module=m", i+2, rec.port), 5*time.Second); code != 200 {
			t.Fatalf("probe %d: %d %s", i, code, body)
		}
	}
	if again, err := h.mgr.Probe("conf", ""); err != nil || again != conf {
		t.Fatalf("the configured target's pool was closed by address probes (%v)", err)
	}
	n := 0
	for _, tg := range h.mgr.Targets() {
		if strings.Contains(tg.Name, "auth_module=") {
			n++
		}
	}
	if n > 2 {
		t.Fatalf("%d address targets open, max_targets 2", n)
	}
	// The recorder refuses the login; what matters is that the pool is open.
	if _, err := conf.Pool.Acquire(t.Context(), "postgres"); errors.Is(err, target.ErrPoolClosed) {
		t.Fatal("the configured target's pool is closed")
	}
}
