package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

// DefaultMaxLag is the replay lag /health/replica and /health/read accept
// when the request names no max_lag.
const DefaultMaxLag = 30 * time.Second

// healthDeadline caps how long a role check may take, whatever the scrape
// timeout settings allow: load balancers check often and give up quickly.
const healthDeadline = 5 * time.Second

// roleQuery reads whether the server is in recovery and, on a standby, its
// replay lag in seconds: zero when everything received has been replayed,
// otherwise the age of the last replayed commit (NULL before the first).
const roleQuery = `SELECT pg_is_in_recovery(),
 CASE WHEN NOT pg_is_in_recovery() THEN NULL
      WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
      ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END`

// healthAnswer is the one-line JSON body of the role checks.
type healthAnswer struct {
	Role   string   `json:"role"`                      // primary, replica or unknown
	Lag    *float64 `json:"lag_seconds,omitempty"`     // replicas only; absent when not known
	MaxLag *float64 `json:"max_lag_seconds,omitempty"` // when the check uses it
	Reason string   `json:"reason,omitempty"`          // why the answer is 503
}

// HealthPrimary serves /health/primary[?target=<name>]: 200 when the server
// answers and is not in recovery, 503 otherwise.
func (s *Server) HealthPrimary(w http.ResponseWriter, r *http.Request) {
	s.health(w, r, true, false)
}

// HealthReplica serves /health/replica[?target=<name>][&max_lag=<duration>]:
// 200 when the server answers, is in recovery and its replay lag is at most
// max_lag, 503 otherwise.
func (s *Server) HealthReplica(w http.ResponseWriter, r *http.Request) {
	s.health(w, r, false, true)
}

// HealthRead serves /health/read[?target=<name>][&max_lag=<duration>]: 200
// for a primary, or for a replica within max_lag, 503 otherwise.
func (s *Server) HealthRead(w http.ResponseWriter, r *http.Request) {
	s.health(w, r, true, true)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request, primaryOK, replicaOK bool) {
	q := r.URL.Query()
	if q.Has("auth_module") {
		http.Error(w, "auth_module is not accepted on /health/: pass target=<name of a target in the config file>, or no target for the default one", http.StatusBadRequest)
		return
	}
	maxLag := DefaultMaxLag
	if v := q.Get("max_lag"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, fmt.Sprintf("max_lag=%q is not a duration of zero or more; use Go's form, e.g. max_lag=30s or max_lag=2m", clip(v)), http.StatusBadRequest)
			return
		}
		maxLag = d
	}
	t, status, msg := s.healthTarget(q.Get("target"))
	if t == nil {
		http.Error(w, msg, status)
		return
	}
	d := s.Timeouts.Deadline(r)
	if d <= 0 || d > healthDeadline {
		d = healthDeadline
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), d, errors.New("health check timeout"))
	defer cancel()

	ans := healthAnswer{Role: "unknown"}
	if replicaOK {
		secs := maxLag.Seconds()
		ans.MaxLag = &secs
	}
	inRecovery, lag, err := readRole(ctx, t)
	ok := false
	switch {
	case errors.Is(err, target.ErrCircuitOpen):
		// The breaker's text says how many failures and when the next
		// attempt is; it names no host or user.
		ans.Reason = "the exporter is not connecting to this server for now (" + err.Error() +
			"); connection.breaker_failures and connection.breaker_open_for in the config file set when and for how long"
	case err != nil:
		s.Logger.Debug("health check cannot read the server's role", "target", t.Name, "err", err)
		ans.Reason = "the server did not answer in time or refused the exporter's connection; the exporter's log says why at debug level"
	case !inRecovery:
		ans.Role = "primary"
		ok = primaryOK
		if !ok {
			ans.Reason = "the server is a primary, not in recovery"
		}
	default:
		ans.Role = "replica"
		ans.Lag = lag
		switch {
		case !replicaOK:
			ans.Reason = "the server is a replica, in recovery"
		case lag == nil:
			ans.Reason = "the replica has replayed no transaction yet, so its lag is not known"
		case *lag > maxLag.Seconds():
			ans.Reason = "the replica's replay lag is over max_lag"
		default:
			ok = true
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(ans)
}

// healthTarget finds the default target (name "") or a target named in the
// config file. Addresses are not accepted: a role check never takes
// credentials anywhere a scrape would not.
func (s *Server) healthTarget(name string) (*target.Target, int, string) {
	if name == "" {
		if t := s.Manager.Default(); t != nil {
			return t, 0, ""
		}
		return nil, http.StatusNotFound, "no default target: set DATA_SOURCE_NAME, or pass target=<name of a target in the config file>"
	}
	// Without an auth module, Probe knows only the config file's names.
	t, err := s.Manager.Probe(name, "")
	var bad *target.BadRequestError
	if errors.As(err, &bad) {
		return nil, http.StatusNotFound, fmt.Sprintf("unknown target %q: /health/ accepts only names of targets in the config file", clip(name))
	}
	if err != nil {
		s.Logger.Error("health check cannot open a configured target", "target", name, "err", err)
		return nil, http.StatusInternalServerError, "cannot check this target; the exporter's log says why"
	}
	return t, 0, ""
}

// readRole asks t, through its pool and circuit breaker, whether it is in
// recovery and how far its replay lags (nil when not known).
func readRole(ctx context.Context, t *target.Target) (inRecovery bool, lag *float64, err error) {
	c, err := t.Acquire(ctx, "")
	if err != nil {
		return false, nil, err
	}
	err = c.QueryRow(ctx, roleQuery).Scan(&inRecovery, &lag)
	c.Release(err)
	// The primary's clock ahead of the standby's makes a fresh commit look
	// younger than now.
	if lag != nil && *lag < 0 {
		*lag = 0
	}
	return inRecovery, lag, err
}
