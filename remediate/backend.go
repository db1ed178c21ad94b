package remediate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// backendParams are the parameters of cancel_backend and terminate_backend.
type backendParams struct {
	// Sessions is idle_in_transaction (sessions idle inside a transaction for
	// MinAge) or blocking (sessions whose transaction, open for MinAge, blocks another).
	Sessions string        `yaml:"sessions"`
	MinAge   time.Duration `yaml:"min_age"`
	// MaxSessions caps the sessions one alert may act on, oldest first.
	MaxSessions int `yaml:"max_sessions"`
	// ApplicationName and User, when set, are anchored regular expressions a
	// session must match as well.
	ApplicationName string `yaml:"application_name"`
	User            string `yaml:"user"`

	appRE, userRE *regexp.Regexp
}

func (p *backendParams) validate() error {
	if p.Sessions != "idle_in_transaction" && p.Sessions != "blocking" {
		return fmt.Errorf("sessions is %q; use idle_in_transaction or blocking", p.Sessions)
	}
	if p.MinAge == 0 {
		p.MinAge = 5 * time.Minute
	}
	if p.MaxSessions == 0 {
		p.MaxSessions = 5
	}
	if p.MinAge < 0 || p.MaxSessions < 0 {
		return errors.New("min_age and max_sessions must not be negative")
	}
	var err error
	if p.appRE, err = optionalRE(p.ApplicationName); err != nil {
		return fmt.Errorf("application_name: %v", err)
	}
	if p.userRE, err = optionalRE(p.User); err != nil {
		return fmt.Errorf("user: %v", err)
	}
	return nil
}

func optionalRE(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, nil
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		return nil, fmt.Errorf("%q is not a valid regular expression: %v", p, err)
	}
	return re, nil
}

func init() {
	register(&actionSpec{name: "cancel_backend", params: func() actionParams { return &backendParams{} }, run: runBackend("pg_cancel_backend", "cancel")})
	register(&actionSpec{name: "terminate_backend", params: func() actionParams { return &backendParams{} }, run: runBackend("pg_terminate_backend", "terminate")})
}

// session is a backend as pg_stat_activity showed it; pid, backend_start
// and xact_start (or state_change) together identify it when acting, so a
// recycled pid is never signalled.
type session struct {
	PID          int32
	BackendStart time.Time
	XactStart    *time.Time
	StateChange  *time.Time
	User, App    string
	Database     string
	State        string
	AgeSeconds   float64
}

func (s session) String() string {
	return fmt.Sprintf("pid %d (user %s, application %q, %s for %s)", s.PID, s.User, truncate(s.App, 64), s.State,
		(time.Duration(s.AgeSeconds) * time.Second).Round(time.Second))
}

// Never: superusers, roles with REPLICATION, anything but client backends
// (autovacuum workers, WAL senders, background workers), this session, and
// the sessions of any receiver (same application_name).
const sessionsSQL = `
SELECT a.pid, a.backend_start, a.xact_start, a.state_change, coalesce(a.usename, '')::text,
       coalesce(a.application_name, ''), coalesce(a.datname, '')::text, coalesce(a.state, ''),
       extract(epoch FROM now() - %[1]s)::float8
FROM pg_stat_activity a
JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
  AND NOT r.rolsuper AND NOT r.rolreplication
  AND coalesce(a.application_name, '') <> $1
  AND %[2]s
ORDER BY %[1]s`

const (
	idleInTxCond = `a.datname = $2 AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND a.state_change < now() - make_interval(secs => $3)`
	// An empty $2 (an alert about the whole server, without datname) looks in
	// every database; the database allowlist is then applied per session.
	blockingCond = `($2 = '' OR a.datname = $2) AND a.xact_start < now() - make_interval(secs => $3)
  AND a.pid IN (SELECT unnest(pg_blocking_pids(b.pid)) FROM pg_stat_activity b WHERE $2 = '' OR b.datname = $2)`
)

func listSessions(ctx context.Context, conn *pgx.Conn, ageCol, cond string, args ...any) ([]session, error) {
	rows, err := conn.Query(ctx, fmt.Sprintf(sessionsSQL, ageCol, cond), args...)
	if err != nil {
		return nil, fmt.Errorf("reading pg_stat_activity: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (session, error) {
		var s session
		err := r.Scan(&s.PID, &s.BackendStart, &s.XactStart, &s.StateChange, &s.User, &s.App, &s.Database, &s.State, &s.AgeSeconds)
		return s, err
	})
}

// signalSQL signals a session only if it is still the one that was chosen
// and still meets the condition; %[1]s is pg_cancel_backend or
// pg_terminate_backend, %[2]s the condition with its parameters shifted by 3.
const signalSQL = `
SELECT %[1]s(a.pid) FROM pg_stat_activity a
WHERE a.pid = $4 AND a.backend_start = $5 AND a.xact_start IS NOT DISTINCT FROM $6::timestamptz
  AND a.state_change IS NOT DISTINCT FROM $7::timestamptz AND coalesce(a.application_name, '') <> $1 AND %[2]s`

// signal sends fn to each session, re-checking it in the same statement.
func (ex *execution) signal(ctx context.Context, conn *pgx.Conn, fn, cond string, condArgs []any, list []session, verb string) outcome {
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.String()
	}
	ex.rec.Detail = "chosen: " + strings.Join(names, "; ")
	if o := ex.started(); o != nil {
		return *o
	}
	var done, gone []string
	for _, s := range list {
		args := append(append([]any{}, condArgs...), s.PID, s.BackendStart, s.XactStart, s.StateChange)
		var ok bool
		err := conn.QueryRow(ctx, fmt.Sprintf(signalSQL, fn, cond), args...).Scan(&ok)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			gone = append(gone, fmt.Sprintf("pid %d", s.PID))
		case err != nil:
			return failed(fmt.Errorf("%s pid %d: %w", fn, s.PID, err))
		case ok:
			done = append(done, s.String())
		default:
			gone = append(gone, fmt.Sprintf("pid %d (signal not delivered)", s.PID))
		}
	}
	ex.rec.Detail = strings.Join(done, "; ")
	if fn == "pg_terminate_backend" {
		waitGone(ctx, conn, list)
	}
	if len(done) == 0 {
		return skipped("condition no longer holds: the chosen sessions changed or ended before the signal (%s)", strings.Join(gone, ", "))
	}
	past := verb + "d" // terminated
	if verb == "cancel" {
		past = "cancelled"
	}
	msg := fmt.Sprintf("%s %d session(s)", past, len(done))
	if len(gone) > 0 {
		msg += "; changed or gone before the signal: " + strings.Join(gone, ", ")
	}
	return ran(msg)
}

// waitGone waits, a few seconds at most, until the terminated sessions have
// left pg_stat_activity, so that the advisory lock is released only when a
// second receiver can no longer see them.
func waitGone(ctx context.Context, conn *pgx.Conn, list []session) {
	pids := make([]int32, len(list))
	for i, s := range list {
		pids[i] = s.PID
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&n); err != nil || n == 0 {
			return
		}
	}
}

// pickSessions applies the role allowlist and the label and parameter filters.
func (ex *execution) pickSessions(all []session, appRE, userRE *regexp.Regexp, max int) (picked []session, notAllowed int) {
	for _, s := range all {
		if u, ok := ex.labels["usename"]; ok && u != "" && u != s.User {
			continue
		}
		if a, ok := ex.labels["application_name"]; ok && a != "" && a != s.App {
			continue
		}
		if appRE != nil && !appRE.MatchString(s.App) || userRE != nil && !userRE.MatchString(s.User) {
			continue
		}
		if !anyMatch(ex.cfg.Allow.roles, s.User) || !anyMatch(ex.cfg.Allow.databases, s.Database) {
			notAllowed++
			continue
		}
		if len(picked) < max {
			picked = append(picked, s)
		}
	}
	return picked, notAllowed
}

func runBackend(fn, verb string) func(context.Context, *execution) outcome {
	return func(ctx context.Context, ex *execution) outcome {
		p := ex.params().(*backendParams)
		var db string
		if _, ok := ex.labels["datname"]; ok || p.Sessions != "blocking" {
			var err error
			db, err = nameLabel(ex.labels, "datname")
			ex.rec.Database, ex.rec.Object = truncate(db, 80), "sessions in "+truncate(db, 80)
			if err != nil {
				return refused("%v", err)
			}
			if !anyMatch(ex.cfg.Allow.databases, db) {
				return refused("database %q is not in allow.databases", db)
			}
		} else {
			// Lock waits are a server-wide alert: look for blockers in every
			// database, acting only on sessions in allowed ones.
			ex.rec.Object = "blocking sessions in allowed databases"
		}
		if cool, why := ex.coolingDown(ex.rec.Object, timeZero); cool {
			return skipped("%s", why)
		}
		conn, err := ex.connect(ctx, "")
		if err != nil {
			return failed(err)
		}
		defer closeConn(conn)
		if !ex.dryRun {
			// Lock before choosing: a second receiver chooses only after the
			// first one's sessions are gone.
			ok, err := ex.tryLock(ctx, conn, ex.rec.Object)
			if err != nil {
				return failed(err)
			}
			if !ok {
				return skipped("another receiver holds the lock for %s on %s", ex.action(), ex.rec.Object)
			}
		}
		cond, ageCol := idleInTxCond, "a.state_change"
		if p.Sessions == "blocking" {
			cond, ageCol = blockingCond, "a.xact_start"
		}
		condArgs := []any{ex.cfg.Session.ApplicationName, db, p.MinAge.Seconds()}
		all, err := listSessions(ctx, conn, ageCol, cond, condArgs...)
		if err != nil {
			return failed(err)
		}
		picked, notAllowed := ex.pickSessions(all, p.appRE, p.userRE, p.MaxSessions)
		if len(picked) == 0 {
			if notAllowed > 0 {
				return refused("%d matching session(s) belong to roles not in allow.roles or databases not in allow.databases", notAllowed)
			}
			where := db
			if where == "" {
				where = "any allowed database"
			}
			return skipped("condition no longer holds: no session in %s is %s for %s", where, strings.ReplaceAll(p.Sessions, "_", " "), p.MinAge)
		}
		ex.rec.Statement = fn + "(pid)"
		if ex.dryRun {
			ex.noteRun(ex.rec.Object)
			names := make([]string, len(picked))
			for i, s := range picked {
				names[i] = s.String()
			}
			ex.rec.Detail = strings.Join(names, "; ")
			return outcome{result: ResultDryRun, reason: fmt.Sprintf("enforce mode would %s %d session(s)", verb, len(picked))}
		}
		out := ex.signal(ctx, conn, fn, cond, condArgs, picked, verb)
		if out.result == ResultRan {
			ex.noteRun(ex.rec.Object)
		}
		return out
	}
}
