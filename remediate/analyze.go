package remediate

import (
	"context"
	"errors"
	"fmt"
)

// analyzeParams are the parameters of the analyze action.
type analyzeParams struct {
	// MinChanges is re-checked against n_mod_since_analyze before running.
	MinChanges int64 `yaml:"min_changes_since_analyze"`
}

func (p *analyzeParams) validate() error {
	if p.MinChanges == 0 {
		p.MinChanges = 5000
	}
	if p.MinChanges < 0 {
		return errors.New("min_changes_since_analyze must not be negative")
	}
	return nil
}

func init() {
	register(&actionSpec{name: "analyze", params: func() actionParams { return &analyzeParams{} }, run: runAnalyze})
}

func runAnalyze(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*analyzeParams)
	conn, rel, o := ex.resolveRelation(ctx, "relname", "rm", "analyze")
	if o != nil {
		return *o
	}
	defer closeConn(conn)
	obj := ex.rec.Object
	var before int64
	check := func() (string, *outcome) {
		st, err := readTableStats(ctx, conn, rel.OID)
		if err != nil {
			return "", ptr(failed(err))
		}
		before = st.AnalyzeCount
		if cool, why := ex.coolingDown(obj, st.LastAnalyze); cool {
			return "", ptr(skipped("%s", why))
		}
		if st.ModsSinceAnalyze < p.MinChanges {
			return "", ptr(skipped("condition no longer holds: %d changes since the last analyze, threshold %d", st.ModsSinceAnalyze, p.MinChanges))
		}
		ex.rec.Detail = fmt.Sprintf("%d changes since the last analyze", st.ModsSinceAnalyze)
		return "ANALYZE (SKIP_LOCKED) " + rel.quoted(), nil
	}
	visible := func() bool {
		st, err := readTableStats(ctx, conn, rel.OID)
		return err == nil && st.AnalyzeCount > before
	}
	return ex.guarded(ctx, conn, obj, check, visible)
}
