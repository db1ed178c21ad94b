// Command demo runs the whole pack on loopback for a newcomer (make demo):
// see internal/demo. DEMO_SECONDS limits how long it runs (default: until
// Ctrl-C); DATA_SOURCE_NAME watches an existing server instead of a
// throwaway one.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/demo"
)

func main() {
	bin, err := filepath.Abs(os.Getenv("EXPORTER_BIN"))
	if os.Getenv("EXPORTER_BIN") == "" {
		bin, err = filepath.Abs("pg_hardening_exporter")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s := os.Getenv("DEMO_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "demo: DEMO_SECONDS=%q is not a positive number of seconds\n", s)
			os.Exit(2)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
		defer cancel()
	}
	if err := demo.Run(ctx, demo.Options{Bin: bin, DSN: os.Getenv("DATA_SOURCE_NAME"), Out: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}
