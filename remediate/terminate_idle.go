package remediate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// terminateIdleParams are the parameters of terminate_idle.
type terminateIdleParams struct {
	// Pools maps the alert's pool label to an anchored regular expression on
	// application_name that selects the pool's sessions.
	Pools map[string]string `yaml:"pools"`
	// IdleFor is how long a session must have been idle.
	IdleFor time.Duration `yaml:"idle_for"`
	// MaxSessions caps the sessions terminated per alert, oldest first.
	MaxSessions int `yaml:"max_sessions"`

	pools map[string]*regexp.Regexp
}

func (p *terminateIdleParams) validate() error {
	if len(p.Pools) == 0 {
		return errors.New("pools is empty; map each pool label value to an application_name pattern")
	}
	if p.IdleFor == 0 {
		p.IdleFor = 10 * time.Minute
	}
	if p.MaxSessions == 0 {
		p.MaxSessions = 5
	}
	if p.IdleFor < 0 || p.MaxSessions < 0 {
		return errors.New("idle_for and max_sessions must not be negative")
	}
	p.pools = map[string]*regexp.Regexp{}
	for name, pat := range p.Pools {
		re, err := optionalRE(pat)
		if err != nil || re == nil {
			return fmt.Errorf("pools.%s: %q is not a valid, non-empty regular expression", name, pat)
		}
		p.pools[name] = re
	}
	return nil
}

func init() {
	register(&actionSpec{name: "terminate_idle", params: func() actionParams { return &terminateIdleParams{} }, run: runTerminateIdle})
}

// idleCond: $2 is the alert's datname or "" for every database.
const idleCond = `($2::text = '' OR a.datname = $2) AND a.state = 'idle'
  AND a.state_change < now() - make_interval(secs => $3)`

func runTerminateIdle(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*terminateIdleParams)
	pool := ex.labels["pool"]
	ex.rec.Object = "pool " + truncate(pool, 80)
	re, ok := p.pools[pool]
	if !ok {
		return refused("pool %q has no application_name pattern under the rule's params.pools", truncate(pool, 80))
	}
	db := ex.labels["datname"]
	if db != "" {
		if _, err := nameLabel(ex.labels, "datname"); err != nil {
			return refused("%v", err)
		}
		if !anyMatch(ex.cfg.Allow.databases, db) {
			return refused("database %q is not in allow.databases", db)
		}
		ex.rec.Database = db
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
		ok, err := ex.tryLock(ctx, conn, ex.rec.Object)
		if err != nil {
			return failed(err)
		}
		if !ok {
			return skipped("another receiver holds the lock for %s on %s", ex.action(), ex.rec.Object)
		}
	}
	condArgs := []any{ex.cfg.Session.ApplicationName, db, p.IdleFor.Seconds()}
	all, err := listSessions(ctx, conn, "a.state_change", idleCond, condArgs...)
	if err != nil {
		return failed(err)
	}
	// Oldest first: listSessions orders by state_change.
	picked, notAllowed := ex.pickSessions(all, re, nil, p.MaxSessions)
	if len(picked) == 0 {
		if notAllowed > 0 {
			return refused("%d idle session(s) of the pool belong to roles not in allow.roles", notAllowed)
		}
		return skipped("condition no longer holds: no session of pool %s idle for %s", truncate(pool, 80), p.IdleFor)
	}
	ex.rec.Statement = "pg_terminate_backend(pid)"
	if ex.dryRun {
		ex.noteRun(ex.rec.Object)
		names := make([]string, len(picked))
		for i, s := range picked {
			names[i] = s.String()
		}
		ex.rec.Detail = strings.Join(names, "; ")
		return outcome{result: ResultDryRun, reason: fmt.Sprintf("enforce mode would terminate %d idle session(s)", len(picked))}
	}
	out := ex.signal(ctx, conn, "pg_terminate_backend", idleCond, condArgs, picked, "terminate")
	if out.result == ResultRan {
		ex.noteRun(ex.rec.Object)
	}
	return out
}
