package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pool holds at most Max connections to one PostgreSQL server, across all of its
// databases. pgxpool binds a pool to one database; database-scoped collectors need
// several, and the cap must hold for the server as a whole, so connections are
// pooled here by database: an idle connection to another database is closed to make
// room when the pool is full. Targets of one server that differ only in the
// database share one Pool (see Pools); each asks for its own database by name.
type Pool struct {
	// Server names the pool in metrics and logs: user@host:port, no secrets.
	Server string

	cfg     *pgx.ConnConfig
	refs    int // targets using the pool; guarded by their Pools' mu
	max     int
	idleTTL time.Duration
	connect func(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error)

	mu      sync.Mutex
	conns   []*Conn // open connections, idle and in use
	opening int     // connections being opened (they count against max)
	closing int     // connections being closed (they count against max until the server ends them)
	closed  bool
	wake    chan struct{} // closed and replaced whenever a slot or idle connection frees up

	stats PoolStats
}

// PoolStats are cumulative counters and current gauges of a Pool.
type PoolStats struct {
	Max           int
	Idle          int
	InUse         int
	Acquires      uint64
	AcquireWait   time.Duration
	AcquireErrors uint64
	Connects      uint64
	ConnectErrors uint64
	ClosedIdle    uint64 // closed by idle eviction or to make room for another database
	ClosedBroken  uint64 // closed after a network error or a cancelled query
}

// Conn is a pooled connection to one database. Release it exactly once.
type Conn struct {
	*pgx.Conn
	db       string
	pool     *Pool
	inUse    bool
	lastUsed time.Time
}

// pingAfterIdle: a connection idle for longer is pinged before it is handed
// out, so a session the server ended meanwhile does not fail a scrape.
const pingAfterIdle = time.Second

// ErrPoolClosed is returned by Acquire after Close.
var ErrPoolClosed = errors.New("connection pool closed")

// NewPool makes a pool; no connection is opened until the first Acquire.
func NewPool(cfg *pgx.ConnConfig, max int, idleTTL time.Duration) *Pool {
	if max < 1 {
		max = 1
	}
	return &Pool{
		cfg:     cfg,
		max:     max,
		idleTTL: idleTTL,
		connect: pgx.ConnectConfig,
		wake:    make(chan struct{}),
	}
}

// ErrNoDatabase is returned by Acquire without a database name.
var ErrNoDatabase = errors.New("no database named for the connection")

// Acquire returns an idle connection to db, or opens one when the cap allows, or
// waits for one until ctx ends. db names the database: a pool may serve
// several targets, so the pool's own connection settings do not choose it.
func (p *Pool) Acquire(ctx context.Context, db string) (*Conn, error) {
	start := time.Now()
	c, err := p.acquire(ctx, db)
	p.mu.Lock()
	p.stats.Acquires++
	p.stats.AcquireWait += time.Since(start)
	if err != nil {
		p.stats.AcquireErrors++
	}
	p.mu.Unlock()
	return c, err
}

func (p *Pool) acquire(ctx context.Context, db string) (*Conn, error) {
search:
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if db == "" {
			p.mu.Unlock()
			return nil, ErrNoDatabase
		}
		// Newest idle connection to the same database first: older ones age out.
		var victim *Conn
		for i := len(p.conns) - 1; i >= 0; i-- {
			c := p.conns[i]
			if c.inUse {
				continue
			}
			if c.db == db {
				c.inUse = true
				idle := time.Since(c.lastUsed)
				p.mu.Unlock()
				if idle < pingAfterIdle || c.Conn.PgConn().Ping(ctx) == nil {
					return c, nil
				}
				// The server restarted or ended the session (idle_session_timeout,
				// a failover) while it sat idle: drop it and look again.
				p.mu.Lock()
				p.remove(c)
				p.stats.ClosedBroken++
				p.closing++
				p.mu.Unlock()
				p.retire(c)
				if ctx.Err() != nil {
					return nil, fmt.Errorf("waiting for a free connection (at most %d): %w", p.max, context.Cause(ctx))
				}
				continue search
			}
			if victim == nil || c.lastUsed.Before(victim.lastUsed) {
				victim = c
			}
		}
		if len(p.conns)+p.opening+p.closing < p.max || victim != nil {
			if len(p.conns)+p.opening+p.closing >= p.max {
				p.remove(victim)
				p.stats.ClosedIdle++
			} else {
				victim = nil
			}
			p.opening++
			p.mu.Unlock()
			if victim != nil {
				// The new session waits for the old one's end: the server
				// never counts more than max of the pool's sessions.
				closeAndWait(victim.Conn)
			}
			return p.open(ctx, db)
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a free connection (at most %d): %w", p.max, context.Cause(ctx))
		case <-wake:
		}
	}
}

func (p *Pool) open(ctx context.Context, db string) (*Conn, error) {
	cfg := p.cfg.Copy()
	cfg.Database = db
	pc, err := p.connect(ctx, cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.opening--
	p.stats.Connects++
	if err != nil {
		p.stats.ConnectErrors++
		p.signal()
		return nil, &ConnectError{Err: err}
	}
	if p.closed {
		p.signal()
		go closeAndWait(pc)
		return nil, ErrPoolClosed
	}
	c := &Conn{Conn: pc, db: db, pool: p, inUse: true}
	p.conns = append(p.conns, c)
	return c, nil
}

// Release returns c to the pool. A connection that pgx has closed (network
// trouble, a cancelled query), that is left inside a transaction, or whose last
// error says the session is gone is discarded; one whose last error concerned
// only the data (a scan into the wrong type, a NULL) or a single statement is
// kept.
func (c *Conn) Release(lastErr error) {
	p := c.pool
	broken := c.Conn.IsClosed() || c.Conn.PgConn().TxStatus() != 'I' || sessionLost(lastErr)
	p.mu.Lock()
	c.inUse = false
	c.lastUsed = time.Now()
	if broken || p.closed {
		p.remove(c)
		if broken {
			p.stats.ClosedBroken++
		}
		p.closing++
		p.mu.Unlock()
		p.retire(c)
		return
	}
	p.signal()
	p.mu.Unlock()
}

// DB is the database this connection is bound to.
func (c *Conn) DB() string { return c.db }

// ErrSessionUnusable marks an error after which the session is in an
// unknown state (a collector stopped half way through reading rows): the
// pool closes it on release rather than hand it out again.
var ErrSessionUnusable = errors.New("the session was left in an unknown state")

// sessionLost reports errors after which the session cannot be trusted:
// connection exceptions (class 08), operator intervention other than a
// cancelled statement (57P: shutdown, terminated), context expiry, and
// ErrSessionUnusable.
func sessionLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrSessionUnusable) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return false
}

// remove drops c from the list; the caller holds mu and closes c.
func (p *Pool) remove(c *Conn) {
	for i, x := range p.conns {
		if x == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return
		}
	}
}

// signal wakes every waiter; the caller holds mu.
func (p *Pool) signal() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// EvictIdle closes connections idle for longer than the idle TTL.
func (p *Pool) EvictIdle(now time.Time) {
	p.mu.Lock()
	var old []*Conn
	for _, c := range append([]*Conn(nil), p.conns...) {
		if !c.inUse && now.Sub(c.lastUsed) > p.idleTTL {
			p.remove(c)
			p.stats.ClosedIdle++
			old = append(old, c)
		}
	}
	p.closing += len(old)
	p.mu.Unlock()
	p.retire(old...)
}

// Close closes idle connections now and the others as they are released.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	var idle []*Conn
	for _, c := range append([]*Conn(nil), p.conns...) {
		if !c.inUse {
			p.remove(c)
			idle = append(idle, c)
		}
	}
	p.closing += len(idle)
	p.signal()
	p.mu.Unlock()
	p.retire(idle...)
}

// Stats returns a snapshot of the counters and gauges.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Max = p.max
	for _, c := range p.conns {
		if c.inUse {
			s.InUse++
		} else {
			s.Idle++
		}
	}
	return s
}

// retire closes connections already removed from the pool and counted in
// closing, and frees their slots once the server has ended their sessions.
func (p *Pool) retire(cs ...*Conn) {
	if len(cs) == 0 {
		return
	}
	for _, c := range cs {
		closeAndWait(c.Conn)
	}
	p.mu.Lock()
	p.closing -= len(cs)
	p.signal()
	p.mu.Unlock()
}

// closeWait bounds how long closing a connection waits for the server.
const closeWait = time.Second

// terminate is the protocol's Terminate message.
var terminate = []byte{'X', 0, 0, 0, 4}

// closeAndWait ends the session and waits, up to closeWait, until the server
// closes its side: by then the backend has left pg_stat_activity and freed
// its max_connections slot, so a session opened next does not briefly make
// one more than the pool's cap. A connection that is already broken or busy
// is just closed.
func closeAndWait(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if c.IsClosed() {
		return
	}
	hc, err := c.PgConn().Hijack()
	if err != nil {
		_ = c.Close(ctx)
		return
	}
	nc := hc.Conn
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(closeWait))
	if _, err := nc.Write(terminate); err != nil {
		return
	}
	// The server sends nothing after Terminate; EOF means its backend exited.
	_, _ = io.Copy(io.Discard, nc)
}
