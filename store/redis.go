package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis deployments (RedisConfig.Mode).
const (
	ModeSingle   = "single"
	ModeCluster  = "cluster"
	ModeSentinel = "sentinel"
)

// RedisConfig selects a Redis deployment. URL is a redis:// or rediss:// URL for one server;
// Addrs (with MasterName for Sentinel) is for Redis Cluster or Sentinel. The password may come
// from the environment only (see the gateway docs).
type RedisConfig struct {
	URL        string
	Addrs      []string
	MasterName string
	// Mode is single, cluster or sentinel; empty takes it from the rest (MasterName: sentinel;
	// several addresses: cluster; else single). A Cluster reached through one address needs
	// cluster: as single, every key of another node's slots fails with MOVED (Probe says so).
	Mode     string
	Password string
	// Prefix of every key (default "interopgate:").
	Prefix string
	// Timeout of each Redis operation (default 250 ms): an outage must cost little per request.
	Timeout       time.Duration
	MaxQueue      int // default 10,000
	MaxQueueBytes int // default 256 MiB
	FeedSize      int // approximate bound of the feed stream, default 10,000
	// OnOp, when set, is told how long each operation took and its error (nil: it answered):
	// for a latency histogram. Each is bounded by Timeout.
	OnOp func(d time.Duration, err error)
}

// NewRedis connects to Redis (lazily: the first operation dials).
func NewRedis(cfg RedisConfig) (Stores, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "interopgate:"
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 250 * time.Millisecond
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 10_000
	}
	if cfg.FeedSize <= 0 {
		cfg.FeedSize = 10_000
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = 256 << 20
	}
	opts := &redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.MasterName, Password: cfg.Password,
		DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout,
		MaxRetries: -1, // a failed operation falls back at once; retries would multiply the wait
		// Sockets honour the operation's deadline (boundHook): one bound for the whole of it.
		ContextTimeoutEnabled: true, PoolTimeout: cfg.Timeout,
		// No CLIENT SETINFO on each new connection: Redis before 7.2 refuses it (an error per
		// dial, counted as a failed operation after every failover), and it costs a round trip.
		DisableIdentity: true,
	}
	if err := cfg.Check(); err != nil {
		return Stores{}, err
	}
	mode := cfg.mode()
	if cfg.URL != "" {
		u, _ := redis.ParseURL(cfg.URL) // checked above
		opts.Addrs = []string{u.Addr}
		opts.DB = u.DB
		opts.Username = u.Username
		if u.Password != "" {
			opts.Password = u.Password
		}
		opts.TLSConfig = u.TLSConfig
	}
	var c redis.UniversalClient
	hook := boundHook{timeout: cfg.Timeout, onOp: cfg.OnOp}
	switch mode {
	case ModeCluster:
		cc := redis.NewClusterClient(opts.Cluster())
		hook.reload = func() { cc.ReloadState(context.Background()) }
		c = cc
	case ModeSentinel:
		c = redis.NewFailoverClient(opts.Failover())
	default:
		c = redis.NewClient(opts.Simple())
	}
	c.AddHook(hook)
	r := &redisStore{c: c, timeout: cfg.Timeout, p: cfg.Prefix, mode: mode, maxQueue: cfg.MaxQueue, maxQueueBytes: cfg.MaxQueueBytes, feedSize: int64(cfg.FeedSize)}
	return Stores{Verdicts: r, Limiter: r, Queue: r, Statuses: r, Feed: r, Invalid: r, Close: c.Close, Probe: r.probe}, nil
}

// Check validates cfg without connecting, naming every problem.
func (cfg RedisConfig) Check() error {
	var errs []error
	switch {
	case cfg.Mode != "" && cfg.Mode != ModeSingle && cfg.Mode != ModeCluster && cfg.Mode != ModeSentinel:
		errs = append(errs, fmt.Errorf("redis mode %q: want single, cluster or sentinel", cfg.Mode))
	case cfg.Mode == ModeSentinel && cfg.MasterName == "":
		errs = append(errs, errors.New("redis mode sentinel needs master_name"))
	}
	if cfg.URL != "" && len(cfg.Addrs) > 0 {
		errs = append(errs, errors.New("redis: url and addrs are both set: give one (url for one server, addrs for a Cluster or Sentinel)"))
	}
	if cfg.MasterName != "" && cfg.Mode != "" && cfg.Mode != ModeSentinel {
		errs = append(errs, fmt.Errorf("redis master_name is Sentinel's, but the mode is %s", cfg.Mode))
	}
	addrs := len(cfg.Addrs)
	if cfg.URL != "" {
		if _, err := redis.ParseURL(cfg.URL); err != nil {
			errs = append(errs, fmt.Errorf("redis url: %w (want redis://host:port, rediss:// or unix://)", err))
		}
		addrs = 1
	}
	switch {
	case addrs == 0:
		errs = append(errs, errors.New("redis: set url or addrs"))
	case cfg.mode() == ModeSingle && addrs > 1:
		errs = append(errs, fmt.Errorf("redis mode single takes one address, not %d", addrs))
	}
	return errors.Join(errs...)
}

// mode is the deployment cfg names: its Mode, or from the rest (master_name: sentinel; several
// addrs: cluster; else single).
func (cfg RedisConfig) mode() string {
	switch {
	case cfg.Mode != "":
		return cfg.Mode
	case cfg.MasterName != "":
		return ModeSentinel
	case len(cfg.Addrs) > 1 && cfg.URL == "":
		return ModeCluster
	}
	return ModeSingle
}

// bound gives a store operation its deadline, redis.timeout, unless ctx has an earlier one: an
// operation of several commands (a script's EVALSHA, then EVAL after NOSCRIPT) shares it
// (found by a review: 402 ms for one Add with a 250 ms timeout).
func (r *redisStore) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= r.timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, r.timeout)
}

// ErrWrongMode: Redis is not deployed as the configured mode says.
var ErrWrongMode = errors.New("redis mode does not match the deployment")

// probe reaches Redis and checks its deployment against the mode: a Cluster node addressed as
// a single server is refused with what to set.
func (r *redisStore) probe(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis (%s): %w", r.mode, err)
	}
	if r.mode == ModeCluster {
		return nil
	}
	info, err := r.c.Info(ctx, "cluster").Result()
	if err == nil && strings.Contains(info, "cluster_enabled:1") {
		return fmt.Errorf("%w: it is a Cluster, but the mode is %s: set redis.mode = \"cluster\" (one address is enough, the nodes are discovered from it)", ErrWrongMode, r.mode)
	}
	return nil
}

type redisStore struct {
	c             redis.UniversalClient
	timeout       time.Duration // of each store operation as a whole
	p             string
	mode          string
	maxQueue      int
	maxQueueBytes int
	feedSize      int64
}

func (r *redisStore) GetVerdicts(ctx context.Context, keys []string) ([]Verdict, []bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	vs, found := make([]Verdict, len(keys)), make([]bool, len(keys))
	if len(keys) == 0 {
		return vs, found, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.p + "v:" + k
	}
	// MGET is one round trip; on Redis Cluster go-redis needs the keys in one slot, so there
	// each key is read in a pipeline instead.
	vals, err := r.mget(ctx, full)
	if err != nil {
		return nil, nil, err
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(s), &vs[i]); err != nil {
			return nil, nil, fmt.Errorf("redis verdict %s: %w", keys[i], err)
		}
		found[i] = true
	}
	return vs, found, nil
}

func (r *redisStore) mget(ctx context.Context, keys []string) ([]any, error) {
	if _, cluster := r.c.(*redis.ClusterClient); !cluster {
		return r.c.MGet(ctx, keys...).Result()
	}
	pipe := r.c.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]any, len(keys))
	for i, c := range cmds {
		if v, err := c.Result(); err == nil {
			out[i] = v
		}
	}
	return out, nil
}

func (r *redisStore) SetVerdicts(ctx context.Context, entries []VerdictEntry) error {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	if len(entries) == 0 {
		return nil
	}
	pipe := r.c.Pipeline()
	for _, e := range entries {
		b, _ := json.Marshal(e.Verdict)
		pipe.Set(ctx, r.p+"v:"+e.Key, b, e.TTL)
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (r *redisStore) Allow(ctx context.Context, key string, limit int, length time.Duration) (bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	idx := time.Now().UnixNano() / int64(length)
	k := r.p + "rl:" + key + ":" + strconv.FormatInt(idx, 10)
	pipe := r.c.Pipeline()
	incr := pipe.Incr(ctx, k)
	pipe.PExpire(ctx, k, 2*length)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return incr.Val() <= int64(limit), nil
}

// The queue's keys share a hash tag, so its scripts work on Redis Cluster: due times (a sorted
// set), items (a hash of JSON), enqueue times (a sorted set, for the oldest), lease tokens (a
// hash) and the stored bytes (a counter).
func (r *redisStore) qKeys() []string {
	return []string{r.p + "{q}:due", r.p + "{q}:items", r.p + "{q}:enq", r.p + "{q}:lease", r.p + "{q}:bytes"}
}

// addScript: ARGV id, due ms, item JSON, max items, enqueued ms, max bytes.
// Returns 1 added, 0 already queued, -1 full.
var addScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 0
end
local bytes = tonumber(redis.call('GET', KEYS[5]) or '0')
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) or bytes + string.len(ARGV[3]) > tonumber(ARGV[6]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('INCRBY', KEYS[5], string.len(ARGV[3]))
return 1`)

// replicaWait bounds how long a queue Add waits for a replica to hold the item.
const replicaWait = 100 * time.Millisecond

// addDurably runs addScript and, where Redis has replicas (cluster, sentinel), WAIT 1 on the same
// connection: the client is answered only once a replica holds the item too, so a master killed
// right after does not take a queued tx with it (Redis replicates asynchronously; found by the
// Sentinel failover test under the race detector: a queued tx lost, its status "queued" for good).
// A replica that does not answer within replicaWait does not fail the Add.
func (r *redisStore) addDurably(ctx context.Context, it Item, b []byte) (int, error) {
	args := []any{it.ID, it.Due.UnixMilli(), b, r.maxQueue, it.Enqueued.UnixMilli(), r.maxQueueBytes}
	if r.mode == ModeSingle {
		return addScript.Run(ctx, r.c, r.qKeys(), args...).Int()
	}
	var c redis.Cmdable = r.c
	if cc, ok := r.c.(*redis.ClusterClient); ok {
		master, err := cc.MasterForKey(ctx, r.qKeys()[0]) // WAIT has no key: ask the queue's node
		if err != nil {
			return 0, err
		}
		c = master
	}
	pipe := c.Pipeline() // one connection: WAIT counts that connection's writes
	add := addScript.Eval(ctx, pipe, r.qKeys(), args...)
	pipe.Do(ctx, "WAIT", 1, replicaWait.Milliseconds())
	if _, err := pipe.Exec(ctx); err != nil && add.Err() != nil {
		return 0, add.Err()
	}
	return add.Int()
}

// claimScript leases due items: their due time moves to the lease's end and each gets a token.
// ARGV now ms, max, until ms, token prefix. Returns item, token, item, token, ...
var claimScript = redis.NewScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    local token = ARGV[4] .. i
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    redis.call('HSET', KEYS[4], id, token)
    table.insert(out, v)
    table.insert(out, token)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`)

// extendScript: ARGV id, token, until ms. 1 if the claim held.
var extendScript = redis.NewScript(`
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`)

// retryScript: ARGV id, token, due ms, attempts. Rewrites the item's attempts and releases it.
var retryScript = redis.NewScript(`
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then
  return 0
end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if not v then
  return 0
end
local item = cjson.decode(v)
item['attempts'] = tonumber(ARGV[4])
local nv = cjson.encode(item)
redis.call('HSET', KEYS[2], ARGV[1], nv)
redis.call('INCRBY', KEYS[5], string.len(nv) - string.len(v))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`)

// ackScript: ARGV id, token. Removes the item if the claim held.
var ackScript = redis.NewScript(`
if redis.call('HGET', KEYS[4], ARGV[1]) ~= ARGV[2] then
  return 0
end
local v = redis.call('HGET', KEYS[2], ARGV[1])
if v then
  redis.call('DECRBY', KEYS[5], string.len(v))
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`)

func (r *redisStore) Add(ctx context.Context, it Item) (bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	b, err := json.Marshal(it)
	if err != nil {
		return false, err
	}
	n, err := r.addDurably(ctx, it, b)
	switch {
	case err != nil:
		return false, err
	case n < 0:
		return false, ErrQueueFull
	}
	return n == 1, nil
}

func (r *redisStore) Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]Item, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	until := now.Add(lease)
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, err
	}
	vals, err := claimScript.Run(ctx, r.c, r.qKeys(), now.UnixMilli(), max, until.UnixMilli(), hex.EncodeToString(nonce[:])+":").StringSlice()
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(vals)/2)
	for i := 0; i+1 < len(vals); i += 2 {
		var it Item
		if err := json.Unmarshal([]byte(vals[i]), &it); err != nil {
			return nil, fmt.Errorf("redis queue item: %w", err)
		}
		it.Due, it.Lease = until, vals[i+1]
		out = append(out, it)
	}
	return out, nil
}

func (r *redisStore) Extend(ctx context.Context, id, lease string, until time.Time) (bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	n, err := extendScript.Run(ctx, r.c, r.qKeys(), id, lease, until.UnixMilli()).Int()
	return n == 1, err
}

func (r *redisStore) Retry(ctx context.Context, id, lease string, due time.Time, attempts int) (bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	n, err := retryScript.Run(ctx, r.c, r.qKeys(), id, lease, due.UnixMilli(), attempts).Int()
	return n == 1, err
}

func (r *redisStore) Ack(ctx context.Context, id, lease string) (bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	n, err := ackScript.Run(ctx, r.c, r.qKeys(), id, lease).Int()
	return n == 1, err
}

func (r *redisStore) Len(ctx context.Context) (int, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	n, err := r.c.ZCard(ctx, r.qKeys()[0]).Result()
	return int(n), err
}

func (r *redisStore) Oldest(ctx context.Context) (time.Time, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	zs, err := r.c.ZRangeWithScores(ctx, r.qKeys()[2], 0, 0).Result()
	if err != nil || len(zs) == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(zs[0].Score)), nil
}

func (r *redisStore) SetStatus(ctx context.Context, hash string, s Status, ttl time.Duration) error {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	b, _ := json.Marshal(s.bounded())
	return r.c.Set(ctx, r.p+"st:"+hash, b, ttl).Err()
}

// SetStatusIfNewer writes s unless the stored status is as new (UpdatedAt) or newer, and says
// whether it wrote. The read and the write are one optimistic transaction (WATCH): a write by
// another replica between them makes it read again, so an older status never replaces a newer
// one (a plain GET then SET could).
func (r *redisStore) SetStatusIfNewer(ctx context.Context, hash string, s Status, ttl time.Duration) (bool, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	key := r.p + "st:" + hash
	b, _ := json.Marshal(s.bounded())
	for range 3 {
		wrote := false
		err := r.c.Watch(ctx, func(tx *redis.Tx) error {
			cur, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				var c Status
				if json.Unmarshal(cur, &c) == nil && !c.UpdatedAt.Before(s.UpdatedAt) {
					return nil // as new or newer: kept
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, b, ttl)
				return nil
			})
			wrote = err == nil
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue // written meanwhile: read it again
		}
		return wrote, err
	}
	return false, redis.TxFailedErr
}

func (r *redisStore) SetStatuses(ctx context.Context, entries []StatusEntry) error {
	return inBatches(entries, func(b []StatusEntry) error { return r.setStatuses(ctx, b) })
}

// setStatuses writes entries in one pipeline.
func (r *redisStore) setStatuses(ctx context.Context, entries []StatusEntry) error {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation
	defer cancel()
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			b, _ := json.Marshal(e.Status.bounded())
			p.Set(ctx, r.p+"st:"+e.Hash, b, e.TTL)
		}
		return nil
	})
	return err
}

func (r *redisStore) GetStatus(ctx context.Context, hash string) (Status, bool, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	b, err := r.c.Get(ctx, r.p+"st:"+hash).Bytes()
	if errors.Is(err, redis.Nil) {
		return Status{}, false, nil
	}
	if err != nil {
		return Status{}, false, err
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return Status{}, false, err
	}
	return s, true, nil
}

// redisBatch is how many commands go in one pipeline (each under its own redis.timeout).
const redisBatch = 128

func (r *redisStore) Publish(ctx context.Context, entries ...FeedEntry) error {
	return inBatches(entries, func(b []FeedEntry) error { return r.publish(ctx, b) })
}

// inBatches calls fn with items redisBatch at a time, stopping at the first error.
func inBatches[T any](items []T, fn func([]T) error) error {
	for len(items) > 0 {
		n := min(len(items), redisBatch)
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// publish appends entries to the feed stream in one pipeline.
func (r *redisStore) publish(ctx context.Context, entries []FeedEntry) error {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation
	defer cancel()
	now := time.Now()
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			if e.At.IsZero() {
				e.At = now
			}
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: r.p + "feed", MaxLen: r.feedSize, Approx: true,
				Values: map[string]any{"hash": e.Hash, "raw": hex.EncodeToString(e.Raw), "at": e.At.UnixMilli()},
			})
		}
		return nil
	})
	return err
}

func (r *redisStore) Read(ctx context.Context, after string, max int) ([]FeedEntry, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := r.c.XRangeN(ctx, r.p+"feed", start, "+", int64(max)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]FeedEntry, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := hex.DecodeString(fmt.Sprint(m.Values["raw"]))
		ms, _ := strconv.ParseInt(fmt.Sprint(m.Values["at"]), 10, 64)
		out = append(out, FeedEntry{ID: m.ID, Hash: fmt.Sprint(m.Values["hash"]), Raw: raw, At: time.UnixMilli(ms)})
	}
	return out, nil
}

// The invalid-tx set is a sorted set scored by each member's expiry (unix ms).
func (r *redisStore) AddTxs(ctx context.Context, hashes []string, ttl time.Duration) error {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	if len(hashes) == 0 {
		return nil
	}
	now := time.Now()
	until := float64(now.Add(ttl).UnixMilli())
	zs := make([]redis.Z, len(hashes))
	for i, h := range hashes {
		zs[i] = redis.Z{Score: until, Member: h}
	}
	pipe := r.c.Pipeline()
	pipe.ZRemRangeByScore(ctx, r.p+"invalid", "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	pipe.ZAdd(ctx, r.p+"invalid", zs...)
	_, err := pipe.Exec(ctx)
	return err
}

func (r *redisStore) Txs(ctx context.Context) ([]string, error) {
	ctx, cancel := r.bound(ctx) // one deadline for the whole operation (EVALSHA and EVAL alike)
	defer cancel()
	return r.c.ZRangeByScore(ctx, r.p+"invalid", &redis.ZRangeBy{Min: "(" + strconv.FormatInt(time.Now().UnixMilli(), 10), Max: "+inf"}).Result()
}
