package ingress

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// clientListener hands out client connections: it bounds the open connections of each TCP peer
// address (over the bound a new connection gets an HTTP 429 and is closed before any request on
// it is read; fasthttp's own MaxConnsPerIP races with its shutdown), sets each one's kernel send
// buffer, and wraps it so the handler can tell pipelined requests.
type clientListener struct {
	net.Listener
	maxPerIP   int           // 0 = no bound
	sendBuffer int           // SO_SNDBUF in bytes; 0 = the kernel's autotuning
	stall      time.Duration // longest wait for a client to take writeSlice bytes; 0 = none
	mu         sync.Mutex
	count      map[netip.Addr]int
}

func newClientListener(ln net.Listener, maxPerIP, sendBuffer int, stall time.Duration) net.Listener {
	return &clientListener{Listener: ln, maxPerIP: maxPerIP, sendBuffer: sendBuffer, stall: stall, count: map[netip.Addr]int{}}
}

var tooManyConns = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 47\r\nConnection: close\r\n\r\ntoo many open connections from your address\r\n\r\n")

func (l *clientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		tcp, isTCP := c.(*net.TCPConn)
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip, _ = netip.AddrFromSlice(a.IP)
			ip = ip.Unmap()
		}
		if l.maxPerIP > 0 {
			l.mu.Lock()
			over := l.count[ip] >= l.maxPerIP
			if !over {
				l.count[ip]++
			}
			l.mu.Unlock()
			if over {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(tooManyConns)
				_ = c.Close()
				continue
			}
		}
		if isTCP && l.sendBuffer > 0 {
			// What the kernel buffers for a client that does not read, beside what the gateway
			// holds (max_unread_answer_bytes): without it, autotuning lets it reach 4 MiB.
			_ = tcp.SetWriteBuffer(l.sendBuffer)
		}
		cc := &clientConn{Conn: c, stall: l.stall}
		if l.maxPerIP > 0 {
			cc.release = func() { l.release(ip) }
		}
		return cc, nil
	}
}

func (l *clientListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
}

// clientConn is a client connection: it gives its per-IP slot back once, on the first Close,
// and counts the reads that brought requests, so the handler can tell a request that was
// already waiting when the previous one was answered (pipelined) from one sent after it.
type clientConn struct {
	net.Conn
	once    sync.Once
	release func()
	reads   atomic.Uint64
	// stall bounds each writeSlice of an answer: a client that stops reading is cut off then,
	// not at the end of write_timeout, and gives its answer's budget back (0 = no bound).
	stall    time.Duration
	deadline time.Time // the write deadline fasthttp set (write_timeout), kept as the outer bound
	// Used only by the connection's serving goroutine (fasthttp serves a connection's
	// requests one at a time, on one goroutine).
	readsAtLast uint64
	pipelined   int
}

func (c *clientConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// writeSlice is the unit of progress a client must make within the stall bound.
const writeSlice = 32 << 10

// SetWriteDeadline keeps fasthttp's deadline (write_timeout) as the outer bound of Write's.
func (c *clientConn) SetWriteDeadline(t time.Time) error {
	c.deadline = t
	return c.Conn.SetWriteDeadline(t)
}

// Write writes p in slices, each within the stall bound (and fasthttp's deadline).
func (c *clientConn) Write(p []byte) (int, error) {
	if c.stall <= 0 {
		return c.Conn.Write(p)
	}
	n := 0
	for n < len(p) {
		end := min(n+writeSlice, len(p))
		d := time.Now().Add(c.stall)
		if !c.deadline.IsZero() && c.deadline.Before(d) {
			d = c.deadline
		}
		if err := c.Conn.SetWriteDeadline(d); err != nil {
			return n, err
		}
		m, err := c.Conn.Write(p[n:end])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *clientConn) Close() error {
	err := c.Conn.Close()
	if c.release != nil {
		c.once.Do(c.release)
	}
	return err
}

// nextRequest counts a request on the connection and reports whether the connection is
// within max pipelined requests: ones read from the socket together with the previous one,
// without the gateway having to wait for the client. A client that waits for each answer never
// pipelines; one that sends ahead without reading is cut off after max.
func (c *clientConn) nextRequest(max int) bool {
	r := c.reads.Load()
	if r == c.readsAtLast {
		c.pipelined++
	} else {
		c.readsAtLast, c.pipelined = r, 0
	}
	return c.pipelined <= max
}
