package collector

// UncheckedCustomInstance makes a custom query that reports column v as a
// gauge straight from its SQL, without the loader's checks (one statement
// per query), so that tests can show what the server refuses whatever the
// text says.
func UncheckedCustomInstance(name, sql string, predicates ...string) *Instance {
	q := &CustomQuery{Name: name, File: "unchecked.yaml", Line: 1, SQL: sql, predicates: predicates,
		columns: []*customColumn{{name: "v", usage: usageGauge, line: 1}}}
	q.finish()
	return q.Instance()
}
