package ingress

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"
)

// parseNetworks reads CIDRs (or bare addresses, as /32 and /128).
func parseNetworks(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(c)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", c)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// clientIPs finds the address a request is charged to: the TCP peer, unless the peer is a
// trusted proxy; then the right-most address of the configured header that is not itself a
// trusted proxy (addresses left of it were written by whoever the client is, and prove
// nothing). An entry that is not an IP stops the walk: the client is the proxy that wrote it.
type clientIPs struct {
	header  string
	trusted []netip.Prefix
}

func (c *clientIPs) trustedAddr(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client's rate-limit key: an IPv4 address, or an IPv6 /64 (one subscriber
// holds a whole /64, so per-address limits would cost it nothing).
func (c *clientIPs) of(ctx *fasthttp.RequestCtx) string {
	var peer netip.Addr
	if tcp, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(tcp.IP)
	}
	client := peer.Unmap()
	if c.header != "" && client.IsValid() && c.trustedAddr(client) {
		client = c.fromHeader(ctx, client)
	}
	return limitKey(client)
}

func (c *clientIPs) fromHeader(ctx *fasthttp.RequestCtx, proxy netip.Addr) netip.Addr {
	// Every line of the header, in order: proxies append, so the right-most entries are the
	// nearest.
	var entries [][]byte
	for _, v := range ctx.Request.Header.PeekAll(c.header) {
		for _, e := range bytes.Split(v, []byte{','}) {
			entries = append(entries, bytes.TrimSpace(e))
		}
	}
	client := proxy
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseForwardedAddr(entries[i])
		if !ok {
			return client
		}
		client = a
		if !c.trustedAddr(a) {
			return a
		}
	}
	return client
}

// parseForwardedAddr reads "1.2.3.4", "1.2.3.4:5678", "2001:db8::1" or "[2001:db8::1]:80".
func parseForwardedAddr(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	s := string(b)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func limitKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
