package exporter

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/webauth"
)

// Reloader re-reads the configuration file on SIGHUP or POST /-/reload and
// puts everything built from it in force at once: targets, collectors and
// custom queries, PgBouncers and backup sources. A file that fails anywhere
// leaves the running configuration in force.
type Reloader struct {
	exporter *Exporter
	mu       sync.Mutex
}

// Reload loads the file and, if everything built from it is valid, puts it
// in force.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.exporter
	s := e.settings
	cfg, err := config.Load(s.ConfigFile)
	var p *plan
	if err == nil {
		p, err = s.prepare(cfg, e.bouncers)
	}
	if err != nil {
		e.State.Set(false)
		s.Logger.Error("configuration reload failed; the previous configuration stays in force", "file", s.ConfigFile, "err", err)
		return err
	}
	e.apply(p, true)
	e.State.Set(true)
	s.Logger.Info("configuration reloaded", "file", s.ConfigFile)
	return nil
}

// ServeHTTP handles POST /-/reload.
func (r *Reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost && req.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
		return
	}
	if err := r.Reload(); err != nil {
		// Configuration errors name files, lines and settings: only an
		// authenticated client sees them, as on the receiver.
		msg := "reload failed, the previous configuration stays in force; the exporter's log says why"
		if ok, _, _ := webauth.Authenticates(r.exporter.settings.WebConfigFile); ok {
			msg = fmt.Sprintf("reload failed, the previous configuration stays in force: %v", err)
		}
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "configuration reloaded")
}
