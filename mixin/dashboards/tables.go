package dashboards

import "github.com/pghardening/pg_hardening_exporter/mixin/names"

// latestOf is the later of two timestamps per table, or whichever exists.
func latestOf(a, b string) string {
	return "(" + a + " > " + b + " or " + b + " or " + a + ")"
}

func tablesBoard(cfg Config) board {
	obj := "{{datname}}.{{schemaname}}.{{relname}}"
	idx := obj + " {{indexrelname}}"
	return board{
		File: "tables-maintenance.json", UID: "pg-tables-maintenance", Title: "PostgreSQL / Tables and maintenance", Tag: "pg-tables",
		Description: "Vacuum and analyze debt against the alert thresholds, bloat, sequential scans on large tables, unused and invalid indexes, and maintenance running now.",
		Rows: []row{
			{Title: "Vacuum and analyze", Panels: []panel{
				ts("Dead tuples (top 10)", "short", "Which tables hold the most dead rows? A VACUUM is due past 10 000.",
					q("topk(10, "+md(names.DeadTuples, namedTable)+")", obj)).over(cfg.DeadTuples),
				ts("Rows changed since analyze (top 10)", "short", "Which tables changed most since their statistics were gathered? An ANALYZE is due past 5 000.",
					q("topk(10, "+md(names.ModSinceAnalyze, namedTable)+")", obj)).over(cfg.ModsSinceAnalyze),
				ts("Time since last vacuum (top 10)", "s", "Which tables have gone longest without a vacuum, manual or automatic?",
					q("topk(10, time() - "+latestOf(md(names.LastVacuum), md(names.LastAutovacuum))+")", obj)),
				ts("Time since last analyze (top 10)", "s", "Which tables have gone longest without fresh statistics?",
					q("topk(10, time() - "+latestOf(md(names.LastAnalyze), md(names.LastAutoanalyze))+")", obj)),
			}},
			{Title: "Bloat and scans", Panels: []panel{
				ts("Table bloat (top 10)", "percentunit", "Which tables waste the most of their heap? A repack is due past 50 %.",
					q("topk(10, "+md(names.TableBloatRatio, namedTable)+")", obj)).over(cfg.BloatRatio).ratio(),
				ts("Index bloat (top 10)", "percentunit", "Which B-tree indexes waste the most space? REINDEX CONCURRENTLY is due past 50 %.",
					q("topk(10, "+md(names.IndexBloatRatio, namedIndex)+")", idx)).over(cfg.BloatRatio).ratio(),
				ts("Wasted table space (top 10)", "bytes", "Where would a repack give back the most disk?",
					q("topk(10, "+md(names.TableBloatBytes, namedTable)+")", obj)),
				ts("Sequential scans per minute on large tables", "short", "Which large tables (100 000 live rows or more) are read by full scans, a sign of a missing index?",
					q("topk(10, 60 * "+rate(md(names.SeqScans, namedTable))+"\nand on ("+serverBy+", datname, schemaname, relname)\n"+md(names.LiveTuples, namedTable)+" >= "+num(cfg.LargeTableRows)+")", obj)).over(cfg.SeqScansPerMinute),
			}},
			{Title: "Indexes and schema", Panels: []panel{
				ts("Invalid indexes", "short", "Are indexes left invalid by a failed CREATE or REINDEX CONCURRENTLY? They cost writes and serve no reads.",
					q(md(names.IndexesInvalid), "{{instance}} {{datname}}")).over(1),
				ts("Unused indexes", "short", "How many indexes were never scanned since the statistics reset (constraints excluded)?",
					q(md(names.IndexesUnused), "{{instance}} {{datname}}")),
				table("Unused indexes by size", "bytes", "Which unused indexes take the most space?",
					q("("+md(names.IndexUnused)+" == 1)\n* on ("+serverBy+", datname, schemaname, relname, indexrelname)\n"+md(names.IndexSize), "")),
				ts("Schema issues", "short", "Which schema problems does each database have (tables without primary key, foreign keys without index, unvalidated constraints, disabled triggers)?",
					q(md(names.SchemaIssues), "{{datname}} {{issue}}")),
			}},
			{Title: "Running maintenance", Panels: []panel{
				ts("Running operations", "short", "Which VACUUM, ANALYZE, CREATE INDEX, CLUSTER and base backup operations run now, in which phase?",
					q(md(names.ProgressOps), "{{command}} {{datname}} {{phase}}")),
				ts("Progress of running operations", "percentunit", "How far have they got in their current phase?",
					q(md(names.ProgressBlksDone)+" / ("+md(names.ProgressBlocks)+" > 0)", "{{command}} {{datname}} {{phase}}")).ratio(),
			}},
		},
	}
}
