package ingress

// Who may call what, and how often (docs/gateway.md, "Browsers, API keys and per-method
// limits"): CORS for browsers, API keys that exempt a client from the per-IP limits or raise
// them, and per-method limits beside the per-IP one.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/interopgate/interopgate/internal/config"
	"github.com/interopgate/interopgate/store"
)

// CodeUnauthorized answers a request naming an API key the gateway does not know.
const CodeUnauthorized = -32001

// MethodLimit is a per-client-IP limit on one method, beside ip_rate_limit.
type MethodLimit struct {
	Method string          `toml:"method" comment:"a method of the allow-list (eth_call, eth_estimateGas, eth_getLogs, …)"`
	Limit  int             `toml:"limit" comment:"calls per window per client IP"`
	Window config.Duration `toml:"window" comment:"the limit's window"`
}

// APIKey is a client the gateway knows by a secret in api_key_header.
type APIKey struct {
	// Name labels the key in logs (the key itself is never logged).
	Name string `toml:"name"`
	Key  string `toml:"key"`
	// LimitFactor multiplies the per-IP and per-method limits for requests with this key; 0
	// exempts them.
	LimitFactor int `toml:"limit_factor"`
}

// LoadAPIKeys reads the keys of a TOML file ([[keys]] with name, key, limit_factor; path empty:
// none) and of env, a list of name:key:limit_factor separated by commas
// (INTEROPGATE_API_KEYS). Keys must be unique and at least 16 characters.
func LoadAPIKeys(path, env string) ([]APIKey, error) {
	var keys []APIKey
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("api_keys_file: %w", err)
		}
		var f struct {
			Keys []APIKey `toml:"keys"`
		}
		if err := config.Decode(data, &f); err != nil {
			return nil, fmt.Errorf("api_keys_file %s: %w", path, err)
		}
		keys = append(keys, f.Keys...)
	}
	for i, item := range strings.Split(env, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		var factor int
		if len(parts) != 3 || parts[0] == "" {
			return nil, fmt.Errorf("INTEROPGATE_API_KEYS entry %d: want name:key:limit_factor", i)
		}
		if _, err := fmt.Sscanf(parts[2], "%d", &factor); err != nil {
			return nil, fmt.Errorf("INTEROPGATE_API_KEYS entry %d (%s): limit_factor %q is not a number", i, parts[0], parts[2])
		}
		keys = append(keys, APIKey{Name: parts[0], Key: parts[1], LimitFactor: factor})
	}
	seen := map[string]bool{}
	for i, k := range keys {
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("API key %d: name is required", i)
		case len(k.Key) < 16:
			return nil, fmt.Errorf("API key %q: the key must be at least 16 characters", k.Name)
		case k.LimitFactor < 0:
			return nil, fmt.Errorf("API key %q: limit_factor must not be negative (0 exempts)", k.Name)
		case seen[k.Key]:
			return nil, fmt.Errorf("API key %q: the same key is listed twice", k.Name)
		}
		seen[k.Key] = true
	}
	return keys, nil
}

// caller is who a request is charged to: its client IP, and the factor of its API key (1
// without one; 0: exempt from the per-IP and per-method limits).
type caller struct {
	ip     string
	key    string // the key's name, "" without one
	factor int
}

type callerKey struct{}

func withCaller(ctx context.Context, c caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerOf(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{factor: 1}
}

// identify finds the caller of a request; an API key the gateway does not know is an error.
func (g *Gateway) identify(ctx *fasthttp.RequestCtx) (caller, *clientError) {
	c := caller{ip: g.clientIPs.of(ctx), factor: 1}
	v := ctx.Request.Header.Peek(g.cfg.APIKeyHeader)
	if len(v) == 0 {
		return c, nil
	}
	k, ok := g.apiKeys[string(v)]
	if !ok {
		return c, newClientError(CodeUnauthorized, http.StatusUnauthorized, "unknown_api_key",
			"unknown API key in "+g.cfg.APIKeyHeader+": leave the header out for the public limits")
	}
	c.key, c.factor = k.Name, k.LimitFactor
	return c, nil
}

// allowIP applies ip_rate_limit, scaled by the caller's key.
func (g *Gateway) allowIP(ctx context.Context, c caller) bool {
	if g.cfg.IPRateLimit <= 0 || c.factor == 0 {
		return true
	}
	ok, err := g.st.Limiter.Allow(ctx, "ip:"+c.ip, g.cfg.IPRateLimit*c.factor, g.cfg.IPRateWindow.D())
	if errors.Is(err, store.ErrLimiterFull) {
		g.metrics.rateTableFull()
	}
	return ok
}

// allowMethod applies the method's own limit (method_limits), scaled by the caller's key.
func (g *Gateway) allowMethod(ctx context.Context, method string) bool {
	l, ok := g.methodLimits[method]
	c := callerOf(ctx)
	if !ok || c.factor == 0 {
		return true
	}
	allowed, err := g.st.Limiter.Allow(ctx, "m:"+method+":"+c.ip, l.Limit*c.factor, l.Window.D())
	if errors.Is(err, store.ErrLimiterFull) {
		g.metrics.rateTableFull()
	}
	return allowed
}

func errMethodRateLimited(method string) *clientError {
	return newClientError(CodeOverRateLimit, http.StatusTooManyRequests, "method_rate_limited",
		fmt.Sprintf("over the rate limit of %s: slow down and retry", method))
}

// cors answers a preflight (true: nothing more to do) and marks an answer to an allowed origin.
// With cors_origins empty, CORS is off: no header is written and preflights are refused.
func (g *Gateway) cors(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	allowed := len(origin) > 0 && g.originAllowed(string(origin))
	if len(g.cfg.CORSOrigins) > 0 {
		ctx.Response.Header.Set("Vary", "Origin") // the answer depends on it, allowed or not
	}
	if allowed {
		ctx.Response.Header.Set("Access-Control-Allow-Origin", string(origin))
	}
	if !ctx.IsOptions() {
		return false
	}
	if !allowed {
		ctx.SetStatusCode(http.StatusForbidden)
		return true
	}
	ctx.Response.Header.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	ctx.Response.Header.Set("Access-Control-Allow-Headers", "Content-Type, "+g.cfg.APIKeyHeader)
	ctx.Response.Header.Set("Access-Control-Max-Age", fmt.Sprint(int(corsMaxAge/time.Second)))
	ctx.SetStatusCode(http.StatusNoContent)
	return true
}

// corsMaxAge is how long a browser may keep a preflight's answer.
const corsMaxAge = 10 * time.Minute

func (g *Gateway) originAllowed(origin string) bool {
	for _, o := range g.cfg.CORSOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}
