package remediate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// execution is one action being carried out for one alert.
type execution struct {
	r      *Receiver
	cfg    *Config
	rule   *Rule
	target *Target
	labels map[string]string
	rec    *Record
	dryRun bool
	now    time.Time

	noticeMu sync.Mutex
	notices  []string
}

func (ex *execution) params() any    { return ex.rule.params }
func (ex *execution) action() string { return ex.rule.Action }

// connConfig reads the target's connection settings (files are read on every
// configuration load, so a rotated password takes effect on SIGHUP).
func (t *Target) connConfig() (*pgx.ConnConfig, error) {
	s := target.ConnSettings{Kind: "target", Name: t.Name, ConnSource: t.ConnSource}
	return s.ConnConfig(os.Getenv)
}

// connect opens a session to db ("" is the target's own database) with the
// receiver's application_name and timeouts. Label text only ever reaches the
// startup packet's database field, never SQL.
func (ex *execution) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cc, err := ex.target.connConfig()
	if err != nil {
		return nil, err
	}
	if db != "" {
		cc.Database = db
	}
	s := ex.cfg.Session
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = s.ApplicationName
	cc.RuntimeParams["lock_timeout"] = strconv.FormatInt(s.LockTimeout.Milliseconds(), 10)
	cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(s.StatementTimeout.Milliseconds(), 10)
	cc.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	// pgx speaks UTF-8 only (a SQL_ASCII database defaults to its own).
	cc.RuntimeParams["client_encoding"] = "UTF8"
	cc.ConnectTimeout = s.ConnectTimeout
	cc.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		ex.noticeMu.Lock()
		ex.notices = append(ex.notices, n.Severity+": "+n.Message)
		ex.noticeMu.Unlock()
	}
	conn, err := ex.r.connect(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", target.Describe(cc), err)
	}
	return conn, nil
}

func (ex *execution) takeNotices() []string {
	ex.noticeMu.Lock()
	defer ex.noticeMu.Unlock()
	n := ex.notices
	ex.notices = nil
	return n
}

// connectDB connects to the database an alert names, turning "no such
// database" into a refusal rather than a failure (it says nothing about the
// server's health and must not open the circuit).
func (ex *execution) connectDB(ctx context.Context, db string) (*pgx.Conn, *outcome) {
	conn, err := ex.connect(ctx, db)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "3D000" {
			o := refused("database %q does not exist on target %s", truncate(db, 80), ex.target.Name)
			return nil, &o
		}
		o := failed(err)
		return nil, &o
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// lockKey is the advisory lock key of (action, target, object).
func lockKey(action, target, object string) int64 {
	h := fnv.New64a()
	h.Write([]byte("pg_hardening_remediate\x00" + action + "\x00" + target + "\x00" + object))
	return int64(h.Sum64())
}

// tryLock takes the session-level advisory lock that keeps two receivers
// from running the same action on the same object; closing conn releases it.
func (ex *execution) tryLock(ctx context.Context, conn *pgx.Conn, object string) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey(ex.action(), ex.target.Name, object)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("advisory lock: %w", err)
	}
	return ok, nil
}

func (ex *execution) cooldownKey(object string) string {
	return ex.action() + "\x00" + ex.target.Name + "\x00" + object
}

// coolingDown reports whether the rule's cooldown since the last run on
// object has not passed. dbLast is the database's own record of the last run
// (last_vacuum, ...), zero where there is none; the receiver's memory is used too.
func (ex *execution) coolingDown(object string, dbLast time.Time) (bool, string) {
	cd := ex.rule.Cooldown
	if cd <= 0 {
		return false, ""
	}
	ex.r.mu.Lock()
	mem := ex.r.cooldowns[ex.cooldownKey(object)]
	ex.r.mu.Unlock()
	last, src := mem, "this receiver's record"
	if dbLast.After(last) {
		last, src = dbLast, "the database's statistics"
	}
	if !last.IsZero() && ex.now.Sub(last) < cd {
		return true, fmt.Sprintf("cooldown: last run %s ago (per %s), cooldown %s", ex.now.Sub(last).Round(time.Second), src, cd)
	}
	return false, ""
}

// noteRun starts the cooldown of object.
func (ex *execution) noteRun(object string) {
	if ex.rule.Cooldown <= 0 {
		return
	}
	ex.r.mu.Lock()
	ex.r.cooldowns[ex.cooldownKey(object)] = ex.r.now()
	ex.r.mu.Unlock()
}

// started writes the "started" record of an action about to change
// something, synced when audit.fsync is on. When the audit log cannot take
// it the action must not run: the outcome returned says so.
func (ex *execution) started() *outcome {
	rec := *ex.rec
	rec.Time, rec.Result, rec.Reason = ex.r.now(), ResultStarted, ""
	rec.bound()
	if err := ex.r.audit.Write(&rec); err != nil {
		ex.r.auditFailed(err)
		return ptr(skipped("nothing was run: the audit log cannot be written (%v)", err))
	}
	return nil
}
