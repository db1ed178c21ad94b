package remediate

import (
	"context"
	"strings"
	"time"
)

// commandParams are the parameters of the command action.
type commandParams struct {
	argvSpec `yaml:",inline"`
}

func (p *commandParams) validate() error { return p.argvSpec.validate("command", 10*time.Minute) }

func init() {
	register(&actionSpec{name: "command", params: func() actionParams { return &commandParams{} }, run: runCommand})
}

func runCommand(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*commandParams)
	argv, err := p.expand(ex.labels, ex.target.Name)
	if err != nil {
		return refused("%v", err)
	}
	obj := strings.Join(argv, " ")
	ex.rec.Object, ex.rec.Statement = truncate(obj, 200), truncate(obj, 1000)
	return ex.runCommandLocked(ctx, obj, argv, p.Timeout, nil)
}

// runCommandLocked runs argv under the advisory lock of obj (taken on the
// target's database), honouring cooldown and dry-run. check, when set,
// re-checks the condition once the lock is held.
func (ex *execution) runCommandLocked(ctx context.Context, obj string, argv []string, timeout time.Duration, check func() *outcome) outcome {
	if !ex.dryRun {
		conn, err := ex.connect(ctx, "")
		if err != nil {
			return failed(err)
		}
		defer closeConn(conn)
		ok, err := ex.tryLock(ctx, conn, obj)
		if err != nil {
			return failed(err)
		}
		if !ok {
			return skipped("another receiver holds the lock for %s on %s", ex.action(), truncate(obj, 200))
		}
	}
	if cool, why := ex.coolingDown(obj, timeZero); cool {
		return skipped("%s", why)
	}
	if check != nil {
		if o := check(); o != nil {
			return *o
		}
	}
	if ex.dryRun {
		ex.noteRun(obj)
		return outcome{result: ResultDryRun, reason: "all checks passed; enforce mode would run the command"}
	}
	if o := ex.started(); o != nil {
		return *o
	}
	out, err := runArgv(ctx, argv, timeout)
	ex.rec.Detail = out
	ex.noteRun(obj)
	if err != nil {
		return failed(err)
	}
	return ran("")
}
