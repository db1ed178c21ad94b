package exporter

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
)

// Reloader re-reads the config file on SIGHUP or POST /-/reload. A file that
// does not load leaves the running configuration in force.
type Reloader struct {
	Path   string
	Server *Server
	State  *State
	Logger *slog.Logger
	// Build makes the scraper for a config (the enabled collectors are fixed
	// by flags; their settings come from the config).
	Build func(*config.Config) (*collector.Scraper, error)

	mu sync.Mutex
}

// Reload loads the file and, if it is valid, puts it in force.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := config.Load(r.Path)
	if err == nil {
		err = cfg.CheckCollectors(collector.Known)
	}
	var sc *collector.Scraper
	if err == nil {
		sc, err = r.Build(cfg)
	}
	if err != nil {
		r.State.Set(false)
		r.Logger.Error("configuration reload failed; the previous configuration stays in force", "file", r.Path, "err", err)
		return err
	}
	r.Server.Manager.Reload(cfg)
	r.Server.SetScraper(sc)
	r.State.Set(true)
	r.Logger.Info("configuration reloaded", "file", r.Path)
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
		http.Error(w, fmt.Sprintf("reload failed, the previous configuration stays in force: %v", err), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "configuration reloaded")
}
