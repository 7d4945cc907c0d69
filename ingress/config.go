package ingress

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/interopgate/interopgate/internal/config"
	sc "github.com/interopgate/interopgate/supervisorclient"
)

// Admission methods.
const (
	MethodSendRawTransaction            = "eth_sendRawTransaction"
	MethodSendRawTransactionConditional = "eth_sendRawTransactionConditional"
	MethodSendRawTransactionSync        = "eth_sendRawTransactionSync"
	MethodSendBundle                    = "eth_sendBundle"
	MethodGetTransactionStatus          = "interopgate_getTransactionStatus"
)

// DefaultMethods returns the read methods forwarded untouched unless the config lists others.
func DefaultMethods() []string {
	return []string{
		"eth_chainId", "net_version", "web3_clientVersion", "eth_syncing", "eth_blockNumber",
		"eth_getBalance", "eth_getCode", "eth_getStorageAt", "eth_getTransactionCount", "eth_getProof",
		"eth_call", "eth_estimateGas", "eth_createAccessList", "eth_gasPrice", "eth_maxPriorityFeePerGas",
		"eth_feeHistory", "eth_blobBaseFee", "eth_getBlockByNumber", "eth_getBlockByHash",
		"eth_getBlockReceipts", "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
		"eth_getTransactionByHash", "eth_getTransactionByBlockNumberAndIndex",
		"eth_getTransactionByBlockHashAndIndex", "eth_getTransactionReceipt", "eth_getLogs",
	}
}

// Config configures the gateway. Durations are config.Duration so the struct is the TOML
// section as it is.
type Config struct {
	ChainID uint64   `toml:"chain_id" comment:"the chain this gateway fronts: txs for another chain are rejected"`
	Methods []string `toml:"methods" comment:"read methods forwarded untouched; the send methods below are always admitted"`

	MaxBodyBytes      int `toml:"max_body_bytes" comment:"request body; the default fits a batch of max_batch_size txs at the max_inbox_entries limit, and one tx of max_tx_bytes"`
	MaxBodyBytesHeld  int `toml:"max_body_bytes_held" comment:"request bodies being read or answered, in all connections; past it a request gets -32005/503 (bodies are read as they arrive, before a request slot is taken)"`
	MaxBatchSize      int `toml:"max_batch_size" comment:"calls in one batch, counted before any is decoded"`
	MaxTxBytes        int `toml:"max_tx_bytes" comment:"one signed transaction, in bytes"`
	MaxInboxEntries   int `toml:"max_inbox_entries" comment:"inbox entries (access-list keys) of one tx"`
	MaxInFlightChecks int `toml:"max_inflight_checks" comment:"filter checks in flight; beyond it interop txs are shed with a retryable error"`

	MaxRequestsInFlight int `toml:"max_requests_in_flight" comment:"requests being answered at once; beyond it requests get -32005/503 at once"`
	MaxConns            int `toml:"max_conns" comment:"open client connections, in all"`
	MaxConnsPerIP       int `toml:"max_conns_per_ip" comment:"open connections per TCP peer address (a load balancer is one peer: raise it or set 0 = off behind one)"`
	// The answers held for clients that have not taken them, and what a connection may queue.
	MaxUnreadAnswerBytes      int             `toml:"max_unread_answer_bytes" comment:"bytes of sentry answers held for clients until they take them, in all; beyond it reads get -32005/503 (answers under 2 KiB are not counted)"`
	MaxUnreadAnswerBytesPerIP int             `toml:"max_unread_answer_bytes_per_ip" comment:"the same per client IP (a client holding nothing may still take one larger answer); beyond it the client gets -32005/429 until it reads"`
	MaxPipelinedRequests      int             `toml:"max_pipelined_requests" comment:"requests a connection may send ahead of reading its answers (HTTP pipelining); beyond it the connection is closed"`
	ConnSendBuffer            int             `toml:"conn_send_buffer" comment:"kernel send buffer of each client connection (SO_SNDBUF), bytes; Linux doubles it: what the kernel holds for a client that does not read; 0 = the kernel's autotuning (up to net.ipv4.tcp_wmem's max, 4 MiB)"`
	RequestTimeout            config.Duration `toml:"request_timeout" comment:"bound of one request, re-tests and sentry failover included"`

	IPRateLimit      int             `toml:"ip_rate_limit" comment:"requests per ip_rate_window per client IP (IPv6: per /64); 0 = off"`
	IPRateWindow     config.Duration `toml:"ip_rate_window" comment:"the per-IP limit's window"`
	SenderRateLimit  int             `toml:"sender_rate_limit" comment:"interop txs needing a filter call per sender_rate_window per sender; 0 = off"`
	SenderRateWindow config.Duration `toml:"sender_rate_window" comment:"the per-sender limit's window"`
	ClientIPHeader   string          `toml:"client_ip_header" comment:"header a trusted proxy writes the client IP into (X-Forwarded-For style); believed only from trusted_proxies"`
	TrustedProxies   []string        `toml:"trusted_proxies" comment:"networks (CIDRs) of the load balancers whose client_ip_header is believed; the client is the right-most address not in them"`
	MethodLimits     []MethodLimit   `toml:"method_limits" comment:"per-client-IP limits on single methods, beside ip_rate_limit"`
	APIKeyHeader     string          `toml:"api_key_header" comment:"the header a client names its API key in (keys: api_keys_file, INTEROPGATE_API_KEYS)"`
	APIKeysFile      string          `toml:"api_keys_file" comment:"TOML file of [[keys]] (name, key, limit_factor: the per-IP and per-method limits × it; 0 exempts); never logged"`
	CORSOrigins      []string        `toml:"cors_origins" comment:"origins browsers may call from (\"*\": any); empty = CORS off"`

	MaxRetestsInFlight    int             `toml:"max_retests_in_flight" comment:"borderline txs waiting for a re-test at once, across clients; beyond it one is answered at once with its retryable code"`
	RetestBudgetPerIP     int             `toml:"retest_budget_per_ip" comment:"txs re-tested per retest_budget_window per client IP (each tx once, however many copies or re-tests; an API key's limit_factor scales it); 0 = no bound"`
	RetestBudgetPerSender int             `toml:"retest_budget_per_sender" comment:"txs re-tested per retest_budget_window per tx sender (each tx once); 0 = no bound"`
	RetestBudgetWindow    config.Duration `toml:"retest_budget_window" comment:"the window of the per-IP and per-sender re-test budgets"`

	SenderStateCheck bool            `toml:"sender_state_check" comment:"before a filter check, read the sender's balance and nonce from a sentry (one batched call per admission round, cached sender_state_ttl) and refuse a tx whose nonce is used or whose sender cannot pay gas × fee cap + value; skipped when the sentries cannot say"`
	SenderStateTTL   config.Duration `toml:"sender_state_ttl" comment:"how long a sender's balance and nonce are reused (about a block)"`
	MaxSenderStates  int             `toml:"max_sender_states" comment:"senders whose state is cached; beyond it new ones are read each time"`

	BlockGasLimit uint64 `toml:"block_gas_limit" comment:"the chain's block gas limit: an interop tx with more gas than it minus 70,000 (the L1-info deposit's) is refused before a filter call, as op-reth refuses it; 0 = not checked"`
	EIP7623       bool   `toml:"eip7623" comment:"the chain has EIP-7623's calldata floor (OP Stack since Isthmus): an interop tx below it is refused before a filter call"`

	ExecTimestampOffset config.Duration `toml:"exec_timestamp_offset" comment:"the executing timestamp sent to the filter is now + this (expected inclusion)"`
	MessageTimeout      uint64          `toml:"message_timeout" comment:"seconds the messages must stay valid after inclusion (the descriptor's timeout)"`
	MinSafety           string          `toml:"min_safety" comment:"safety level asked of the filters: unsafe or cross-unsafe"`
	FilterTimeout       config.Duration `toml:"filter_timeout" comment:"bound of one filter call from the admission path"`
	FilterCallsInFlight int             `toml:"filter_calls_in_flight" comment:"filter calls in flight at once; checks arriving meanwhile wait and go together in the next call (no added latency when idle)"`
	FilterBatchSize     int             `toml:"filter_batch_size" comment:"most checks in one coalesced filter call"`
	ValidTTL            config.Duration `toml:"valid_ttl" comment:"how long a valid verdict is reused for the same access list (dropped on any failsafe change)"`
	InvalidTTL          config.Duration `toml:"invalid_ttl" comment:"how long an unambiguous invalid verdict is reused; ambiguous ones (contested, -32602, op-supervisor's -320600) never are"`
	DuplicateTTL        config.Duration `toml:"duplicate_ttl" comment:"how long a forwarded tx's hash is remembered, so a repeat is answered locally; 0 = off"`

	RetryDelay    config.Duration `toml:"retry_delay" comment:"delay before re-testing a borderline (not-yet-provable) tx"`
	RetryAttempts int             `toml:"retry_attempts" comment:"re-tests before a borderline tx is rejected"`
	AsyncRetry    bool            `toml:"async_retry" comment:"answer borderline txs with their hash at once and finish them from the delay queue"`
	QueuePoll     config.Duration `toml:"queue_poll" comment:"how often the delay queue is polled for due txs"`
	QueueLease    config.Duration `toml:"queue_lease" comment:"a claimed queue item returns to the queue after this if its replica died"`
	QueueBatch    int             `toml:"queue_batch" comment:"queued txs claimed and re-tested together per poll"`
	StatusTTL     config.Duration `toml:"status_ttl" comment:"how long interopgate_getTransactionStatus remembers a tx"`

	ForwardToAll                 bool `toml:"forward_to_all" comment:"send valid txs to every healthy sentry instead of one"`
	EnableSendRawTransactionSync bool `toml:"enable_send_raw_transaction_sync" comment:"admit eth_sendRawTransactionSync (the client waits for the receipt)"`
	EnableSendBundle             bool `toml:"enable_send_bundle" comment:"admit eth_sendBundle (every tx of the bundle is checked)"`

	ReadTimeout       config.Duration `toml:"read_timeout" comment:"reading one request from a client connection"`
	WriteTimeout      config.Duration `toml:"write_timeout" comment:"writing one response"`
	WriteStallTimeout config.Duration `toml:"write_stall_timeout" comment:"a client must take each 32 KiB of an answer within this, or its connection is closed and the answer's budget given back; 0 = only write_timeout"`
	IdleTimeout       config.Duration `toml:"idle_timeout" comment:"keep-alive connections idle longer are closed"`

	// WebSocket on the same listener (docs/gateway.md, "WebSocket").
	WebSocket          bool `toml:"websocket" comment:"serve JSON-RPC over WebSocket on the same port (an Upgrade request on any path)"`
	MaxWSConns         int  `toml:"max_ws_conns" comment:"client WebSocket connections open at once; beyond it an upgrade gets HTTP 503"`
	MaxWSSubscriptions int  `toml:"max_ws_subscriptions" comment:"subscriptions per WebSocket connection"`
	MaxWSCallsInFlight int  `toml:"max_ws_calls_in_flight" comment:"calls being answered per WebSocket connection; further messages wait unread"`
	MaxWSReadBytes     int  `toml:"max_ws_read_bytes" comment:"bytes of WebSocket messages being read or handled, all sockets together (each must arrive whole within read_timeout); beyond it the socket is closed 1013"`
	WSWriteQueue       int  `toml:"ws_write_queue" comment:"answers and notifications queued for one WebSocket client; a client that lets more pile up is disconnected (1008)"`
}

// DefaultConfig is the gateway's defaults; ChainID must still be set.
func DefaultConfig() Config {
	d := func(v time.Duration) config.Duration { return config.Duration(v) }
	return Config{
		Methods:      DefaultMethods(),
		MaxBodyBytes: 2 << 20, MaxBodyBytesHeld: 128 << 20, MaxBatchSize: 100, MaxTxBytes: 128 << 10, MaxInboxEntries: 256, MaxInFlightChecks: 512,
		MaxRequestsInFlight: 1024, MaxConns: 4096, MaxConnsPerIP: 512, RequestTimeout: d(15 * time.Second),
		MaxUnreadAnswerBytes: 16 << 20, MaxUnreadAnswerBytesPerIP: 2 << 20, MaxPipelinedRequests: 16, ConnSendBuffer: 16 << 10,
		WriteStallTimeout: d(5 * time.Second),
		IPRateWindow:      d(time.Second), SenderRateLimit: 20, SenderRateWindow: d(time.Second),
		ExecTimestampOffset: d(2 * time.Second), MessageTimeout: 7200, MinSafety: string(sc.SafetyCrossUnsafe),
		FilterTimeout: d(3 * time.Second), FilterCallsInFlight: 8, FilterBatchSize: 100, ValidTTL: d(10 * time.Second), InvalidTTL: d(2 * time.Second),
		DuplicateTTL: d(30 * time.Second),
		RetryDelay:   d(time.Second), RetryAttempts: 3, QueuePoll: d(100 * time.Millisecond), QueueLease: d(30 * time.Second), QueueBatch: 64,
		StatusTTL:   d(time.Hour),
		ReadTimeout: d(10 * time.Second), WriteTimeout: d(30 * time.Second), IdleTimeout: d(2 * time.Minute),
		APIKeyHeader: "X-Api-Key", EIP7623: true,
		SenderStateCheck: true, SenderStateTTL: d(2 * time.Second), MaxSenderStates: 100_000,
		MaxRetestsInFlight: 256, RetestBudgetPerIP: 0, RetestBudgetPerSender: 10, RetestBudgetWindow: d(time.Second),
		WebSocket: true, MaxWSConns: 1024, MaxWSReadBytes: 32 << 20, MaxWSSubscriptions: 32, MaxWSCallsInFlight: 8, WSWriteQueue: 256,
	}
}

// methodName is a JSON-RPC method of an Ethereum node: namespace_name.
var methodName = regexp.MustCompile(`^[a-z][a-z0-9]*_[A-Za-z0-9_]+$`)

// Check validates the config and names every bad field at once (errors.Join), in a stable order.
func (c *Config) Check() error {
	var errs []error
	bad := func(err error) { errs = append(errs, err) }
	if c.ChainID == 0 {
		bad(errors.New("chain_id is required"))
	}
	if _, err := sc.ParseCheckSafety(c.MinSafety); err != nil {
		bad(fmt.Errorf("min_safety: %w", err))
	}
	positive := map[string]int64{
		"max_body_bytes": int64(c.MaxBodyBytes), "max_body_bytes_held": int64(c.MaxBodyBytesHeld), "max_batch_size": int64(c.MaxBatchSize), "max_tx_bytes": int64(c.MaxTxBytes),
		"max_inbox_entries": int64(c.MaxInboxEntries), "max_inflight_checks": int64(c.MaxInFlightChecks),
		"filter_timeout": int64(c.FilterTimeout), "filter_calls_in_flight": int64(c.FilterCallsInFlight),
		"filter_batch_size": int64(c.FilterBatchSize), "retry_delay": int64(c.RetryDelay), "queue_poll": int64(c.QueuePoll),
		"queue_lease": int64(c.QueueLease), "status_ttl": int64(c.StatusTTL), "read_timeout": int64(c.ReadTimeout),
		"write_timeout": int64(c.WriteTimeout), "idle_timeout": int64(c.IdleTimeout),
		"max_requests_in_flight": int64(c.MaxRequestsInFlight), "max_conns": int64(c.MaxConns),
		"request_timeout": int64(c.RequestTimeout), "queue_batch": int64(c.QueueBatch),
		"max_unread_answer_bytes": int64(c.MaxUnreadAnswerBytes), "max_unread_answer_bytes_per_ip": int64(c.MaxUnreadAnswerBytesPerIP),
		"max_pipelined_requests": int64(c.MaxPipelinedRequests), "max_ws_conns": int64(c.MaxWSConns),
		"max_ws_subscriptions": int64(c.MaxWSSubscriptions), "max_ws_calls_in_flight": int64(c.MaxWSCallsInFlight),
		"ws_write_queue": int64(c.WSWriteQueue), "max_ws_read_bytes": int64(c.MaxWSReadBytes), "max_retests_in_flight": int64(c.MaxRetestsInFlight),
		"retest_budget_window": int64(c.RetestBudgetWindow), "sender_state_ttl": int64(c.SenderStateTTL), "max_sender_states": int64(c.MaxSenderStates),
	}
	for _, name := range slices.Sorted(maps.Keys(positive)) {
		if positive[name] <= 0 {
			bad(fmt.Errorf("%s must be positive", name))
		}
	}
	nonNegative := map[string]int64{
		"ip_rate_limit": int64(c.IPRateLimit), "sender_rate_limit": int64(c.SenderRateLimit), "retry_attempts": int64(c.RetryAttempts),
		"valid_ttl": int64(c.ValidTTL), "invalid_ttl": int64(c.InvalidTTL), "exec_timestamp_offset": int64(c.ExecTimestampOffset),
		"max_conns_per_ip": int64(c.MaxConnsPerIP), "duplicate_ttl": int64(c.DuplicateTTL), "conn_send_buffer": int64(c.ConnSendBuffer),
		"write_stall_timeout": int64(c.WriteStallTimeout), "retest_budget_per_ip": int64(c.RetestBudgetPerIP),
		"retest_budget_per_sender": int64(c.RetestBudgetPerSender),
	}
	for _, name := range slices.Sorted(maps.Keys(nonNegative)) {
		if nonNegative[name] < 0 {
			bad(fmt.Errorf("%s must not be negative", name))
		}
	}
	if c.MaxUnreadAnswerBytesPerIP > c.MaxUnreadAnswerBytes {
		bad(fmt.Errorf("max_unread_answer_bytes_per_ip (%d) exceeds max_unread_answer_bytes (%d): one client could hold them all", c.MaxUnreadAnswerBytesPerIP, c.MaxUnreadAnswerBytes))
	}
	if c.IPRateLimit > 0 && c.IPRateWindow <= 0 {
		bad(errors.New("ip_rate_window must be positive when ip_rate_limit is set"))
	}
	limited := map[string]bool{}
	for i, l := range c.MethodLimits {
		switch {
		case l.Method == "" || l.Limit <= 0 || l.Window <= 0:
			bad(fmt.Errorf("method_limits[%d]: method, a positive limit and a positive window are required", i))
		case !slices.Contains(c.Methods, l.Method):
			bad(fmt.Errorf("method_limits[%d]: %q is not a read method of the allow-list (methods): the limit would never apply", i, l.Method))
		case limited[l.Method]:
			bad(fmt.Errorf("method_limits[%d]: %q is limited twice", i, l.Method))
		}
		limited[l.Method] = true
	}
	if err := checkHeaderName(c.APIKeyHeader); err != nil {
		bad(fmt.Errorf("api_key_header %q: %w", c.APIKeyHeader, err))
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o, len(c.CORSOrigins)); err != nil {
			bad(fmt.Errorf("cors_origins %q: %w", o, err))
		}
	}
	if c.SenderRateLimit > 0 && c.SenderRateWindow <= 0 {
		bad(errors.New("sender_rate_window must be positive when sender_rate_limit is set"))
	}
	if c.AsyncRetry && c.QueueLease.D() <= 2*c.FilterTimeout.D() {
		bad(errors.New("queue_lease must exceed twice filter_timeout, or items would be claimed again while being checked"))
	}
	if c.MaxBodyBytesHeld < c.MaxBodyBytes {
		bad(fmt.Errorf("max_body_bytes_held (%d) is below max_body_bytes (%d): a body of the bound could never be read", c.MaxBodyBytesHeld, c.MaxBodyBytes))
	}
	if need := 2*c.MaxTxBytes + 256; c.MaxBodyBytes < need {
		bad(fmt.Errorf("max_body_bytes %d cannot carry one transaction of max_tx_bytes (%d bytes of hex): want at least %d", c.MaxBodyBytes, 2*c.MaxTxBytes, need))
	}
	if c.ClientIPHeader != "" && len(c.TrustedProxies) == 0 {
		bad(errors.New("client_ip_header is set but trusted_proxies is empty: the header would be believed from nobody; list your load balancers' networks"))
	}
	if _, err := parseNetworks(c.TrustedProxies); err != nil {
		bad(fmt.Errorf("trusted_proxies: %w", err))
	}
	listed := map[string]bool{}
	for _, m := range c.Methods {
		switch {
		case m == MethodSendRawTransaction, m == MethodSendRawTransactionConditional, m == MethodSendRawTransactionSync, m == MethodSendBundle:
			bad(fmt.Errorf("methods: %s is an admission method, not a read: it is always admitted (or enabled by its own key)", m))
		case !methodName.MatchString(m):
			// A JSON-RPC method is namespace_name (found by a review: "" and "eth_cal " passed).
			bad(fmt.Errorf("methods: %q is not a JSON-RPC method name (namespace_name, as eth_call)", m))
		case listed[m]:
			bad(fmt.Errorf("methods: %s is listed twice", m))
		}
		listed[m] = true
	}
	return errors.Join(errs...)
}

// checkHeaderName accepts an HTTP header name (a token) that is not one HTTP itself uses.
func checkHeaderName(h string) error {
	if h == "" {
		return errors.New("must not be empty")
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%q is not allowed in a header name", r)
		}
	}
	switch strings.ToLower(h) {
	case "content-type", "content-length", "host", "origin", "connection", "upgrade", "transfer-encoding", "cookie",
		"x-forwarded-for", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions":
		return errors.New("HTTP itself uses this header")
	}
	return nil
}

// checkOrigin accepts "*" (alone) or an origin as a browser sends it: scheme://host[:port].
func checkOrigin(o string, of int) error {
	if o == "*" {
		if of > 1 {
			return errors.New(`"*" allows every origin: list it alone`)
		}
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want an origin as a browser sends it: https://host or https://host:port, no path")
	}
	return nil
}
