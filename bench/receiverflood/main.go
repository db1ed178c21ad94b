// Command receiverflood floods `pg_hardening_exporter remediate` with
// hostile webhook payloads and reports the receiver's peak RSS, which its
// bounds (label values cut, limits.remembered_alerts, limits.deferred_actions,
// queue.size, the webhook's in-flight limit) must keep flat however long the
// flood lasts. docs/benchmarks.md has its numbers.
//
//	go run ./bench/receiverflood -duration 60s -clients 16
//
// It builds the binary (or takes -bin), starts the receiver on loopback with
// the default limits and a target that refuses connections, and sends, round
// robin from every client, payloads of five shapes, each with new
// fingerprints every time:
//
//   - huge: one alert a deferred rule maps, with 63 more labels of 16 KiB
//     (a body just under webhook.max_body_bytes);
//   - names: 1 000 alerts with distinct alert names of 500 bytes, mapped by
//     no rule;
//   - fingerprints: 1 000 alerts a rule maps to an immediate action;
//   - resolved: 1 000 resolved alerts;
//   - deferring: 50 alerts a deferred rule maps, each with 63 labels of
//     128 bytes, the most the receiver keeps of a value.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const config = `mode: dry-run
audit: {file: /dev/null}
windows:
  never: {start: "00:00", end: "00:01", days: [sun], time_zone: Pacific/Kiritimati}
targets:
  - name: db1
    match: {instance: "db1:9932"}
    dsn: postgres://remediate@127.0.0.1:1/postgres?connect_timeout=1
rules:
  - alertname: PostgresDeadTuplesHigh
    action: vacuum
    window: never
  - alertname: PostgresAnalyzeOverdue
    action: analyze
`

type alert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
}

type message struct {
	Version string  `json:"version"`
	Status  string  `json:"status"`
	Alerts  []alert `json:"alerts"`
}

var seq atomic.Int64

// labels returns the base labels of a hostile alert, with n extra labels of
// size bytes and a counter that makes its fingerprint new.
func labels(name string, n, size int) map[string]string {
	l := map[string]string{"alertname": name, "instance": "db1:9932", "datname": "app", "schemaname": "public",
		"relname": "t" + strconv.FormatInt(seq.Add(1), 10)}
	for i := range n {
		l[fmt.Sprintf("x%02d", i)] = strings.Repeat(string(rune('a'+i%26)), size)
	}
	return l
}

var shapes = []struct {
	name string
	make func() message
}{
	{"huge", alerts(1, "firing", "PostgresDeadTuplesHigh", 58, 16<<10)},
	{"names", func() message {
		var m message
		for i := range 1000 {
			name := fmt.Sprintf("Flood%d_%d_%s", seq.Add(1), i, strings.Repeat("n", 500))
			m.Alerts = append(m.Alerts, alert{Status: "firing", Labels: labels(name, 0, 0)})
		}
		return m
	}},
	{"fingerprints", alerts(1000, "firing", "PostgresAnalyzeOverdue", 0, 0)},
	{"resolved", alerts(1000, "resolved", "PostgresAnalyzeOverdue", 0, 0)},
	{"deferring", alerts(50, "firing", "PostgresDeadTuplesHigh", 58, 128)},
}

// alerts makes a shape of count alerts with status, each with labels(name,
// n, size) and so a new fingerprint every time.
func alerts(count int, status, name string, n, size int) func() message {
	return func() message {
		m := message{Alerts: make([]alert, 0, count)}
		for range count {
			m.Alerts = append(m.Alerts, alert{Status: status, Labels: labels(name, n, size)})
		}
		return m
	}
}

func body(shape int) []byte {
	m := shapes[shape].make()
	m.Version, m.Status = "4", m.Alerts[0].Status
	now := time.Now().UTC()
	for i := range m.Alerts {
		m.Alerts[i].StartsAt = now
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// procStatus reads a field of /proc/<pid>/status in kB.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func main() {
	bin := flag.String("bin", "", "pg_hardening_exporter binary (default: go build the module into a temporary directory)")
	duration := flag.Duration("duration", 60*time.Second, "how long to flood")
	clients := flag.Int("clients", 16, "concurrent senders")
	flag.Parse()
	if err := run(*bin, *duration, *clients); err != nil {
		fmt.Fprintln(os.Stderr, "receiverflood:", err)
		os.Exit(1)
	}
}

func run(bin string, duration time.Duration, clients int) error {
	dir, err := os.MkdirTemp("", "receiverflood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "pg_hardening_exporter")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("go build (run from the repository's root): %v\n%s", err, out)
		}
	}
	cfg := filepath.Join(dir, "remediate.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "remediate", "--config.file="+cfg, "--web.listen-address="+addr, "--log.level=error")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the receiver did not start")
		}
	}
	startRSS := procStatus(cmd.Process.Pid, "VmRSS")

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	var mu sync.Mutex
	codes := map[string]map[int]int{}
	var sent atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i++ {
				shape := i % len(shapes)
				b := body(shape)
				sent.Add(int64(len(b)))
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhook", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
				} else if ctx.Err() != nil {
					return
				}
				mu.Lock()
				if codes[shapes[shape].name] == nil {
					codes[shapes[shape].name] = map[int]int{}
				}
				codes[shapes[shape].name][code]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	pid := cmd.Process.Pid
	peak, endRSS := procStatus(pid, "VmHWM"), procStatus(pid, "VmRSS")

	fmt.Printf("flood: %s, %d clients, %.0f MB sent\n\n", duration, clients, float64(sent.Load())/1e6)
	fmt.Println("| shape | requests | answers |")
	fmt.Println("| --- | --- | --- |")
	for _, s := range shapes {
		var parts []string
		total := 0
		var keys []int
		for code := range codes[s.name] {
			keys = append(keys, code)
		}
		sort.Ints(keys)
		for _, code := range keys {
			n := codes[s.name][code]
			total += n
			parts = append(parts, fmt.Sprintf("%d x %d", n, code))
		}
		fmt.Printf("| %s | %d | %s |\n", s.name, total, strings.Join(parts, ", "))
	}
	fmt.Printf("\nRSS at start %.1f MiB, at the end %.1f MiB, peak (VmHWM) %.1f MiB\n", float64(startRSS)/1024, float64(endRSS)/1024, float64(peak)/1024)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	series := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "pg_remediation_actions_total{") {
			series++
		}
		for _, p := range []string{"pg_remediation_remembered_alerts", "pg_remediation_deferred_actions", "pg_remediation_queue_length",
			"pg_remediation_queue_capacity", "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes"} {
			if strings.HasPrefix(line, p+" ") || strings.HasPrefix(line, p+"_capacity ") {
				fmt.Println(line)
			}
		}
	}
	fmt.Printf("pg_remediation_actions_total series: %d\n", series)
	return sc.Err()
}
