// Package collector holds the exporter's collectors and the framework that runs
// them: a registry filled by each collector's init(), enable/disable flags
// generated from it, version and extension predicates, per-collector TTL
// caches, database-scoped collectors run once per discovered database, and the
// meta-metrics that report each collector's success and duration.
package collector
