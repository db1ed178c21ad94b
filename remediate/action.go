package remediate

import (
	"context"
	"sort"
)

// actionParams are an action's parameters from a rule's params: block.
// validate fills defaults and checks values; its error is one sentence.
type actionParams interface {
	validate() error
}

// actionSpec describes one action; each action file registers its own.
type actionSpec struct {
	name   string
	params func() actionParams
	run    func(ctx context.Context, ex *execution) outcome
}

var actions = map[string]*actionSpec{}

// register adds an action; called from init(). A name registered twice is a
// programming error, caught at start as the collector registry does.
func register(s *actionSpec) {
	if _, dup := actions[s.name]; dup {
		panic("remediation action registered twice: " + s.name)
	}
	actions[s.name] = s
}

func actionNames() []string {
	out := make([]string, 0, len(actions))
	for n := range actions {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
