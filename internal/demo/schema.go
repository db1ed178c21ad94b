package demo

// schema is an example lead-routing schema (leads, agents, lead_assignments)
// with its constraints and indexes, plus soft-delete columns that a cleanup
// job purges.
var schema = []string{
	`CREATE TYPE lead_status AS ENUM ('RECEIVED', 'PROCESSING', 'QUALIFIED', 'ROUTED', 'CONVERTED', 'REJECTED')`,
	`CREATE TABLE agents (
		id serial PRIMARY KEY,
		name text NOT NULL,
		is_active boolean NOT NULL DEFAULT true,
		current_lead_count int NOT NULL DEFAULT 0,
		max_lead_capacity int NOT NULL DEFAULT 10,
		deleted_at timestamptz)`,
	`CREATE TABLE leads (
		id serial PRIMARY KEY,
		email text NOT NULL,
		phone text,
		quality_score int,
		status lead_status NOT NULL DEFAULT 'RECEIVED',
		version int NOT NULL DEFAULT 1,
		created_at timestamptz NOT NULL DEFAULT now(),
		updated_at timestamptz NOT NULL DEFAULT now(),
		deleted_at timestamptz,
		CONSTRAINT leads_email_unique UNIQUE (email),
		CONSTRAINT chk_leads_quality_score CHECK (quality_score >= 0 AND quality_score <= 100))
		WITH (autovacuum_enabled = false)`,
	`CREATE INDEX idx_leads_active ON leads (status) WHERE deleted_at IS NULL`,
	`CREATE TABLE lead_assignments (
		id serial PRIMARY KEY,
		lead_id int NOT NULL REFERENCES leads (id),
		agent_id int NOT NULL REFERENCES agents (id),
		assigned_at timestamptz NOT NULL DEFAULT now(),
		deleted_at timestamptz)`,
	`INSERT INTO agents (name, current_lead_count, max_lead_capacity)
		SELECT 'agent-' || g, CASE WHEN g <= 3 THEN 10 ELSE g % 7 END, 10 FROM generate_series(1, 20) g`,
	`INSERT INTO leads (email, quality_score, status, deleted_at)
		SELECT 'lead' || g || '@example.com', g % 101,
		       (ARRAY['RECEIVED','PROCESSING','QUALIFIED','ROUTED','CONVERTED','REJECTED'])[1 + g % 6]::lead_status,
		       CASE WHEN g % 50 = 0 THEN now() - interval '120 days' END
		FROM generate_series(1, 30000) g`,
	`INSERT INTO lead_assignments (lead_id, agent_id) SELECT g, 1 + g % 20 FROM generate_series(1, 5000) g`,
	`ANALYZE`,
}
