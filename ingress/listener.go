package ingress

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// perIPListener bounds the open connections of each TCP peer address. Over the bound a new
// connection gets an HTTP 429 and is closed, before any request on it is read. (fasthttp's own
// MaxConnsPerIP races with its shutdown: this one wraps the listener instead.)
type perIPListener struct {
	net.Listener
	max   int
	mu    sync.Mutex
	count map[netip.Addr]int
}

func newPerIPListener(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &perIPListener{Listener: ln, max: max, count: map[netip.Addr]int{}}
}

var tooManyConns = []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 47\r\nConnection: close\r\n\r\ntoo many open connections from your address\r\n\r\n")

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var ip netip.Addr
		if tcp, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip, _ = netip.AddrFromSlice(tcp.IP)
			ip = ip.Unmap()
		}
		l.mu.Lock()
		over := l.count[ip] >= l.max
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
		return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
	}
}

func (l *perIPListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[ip]--; l.count[ip] <= 0 {
		delete(l.count, ip)
	}
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
