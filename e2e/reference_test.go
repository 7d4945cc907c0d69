//go:build opgeth

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"go.uber.org/zap"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/rpctest"
	sc "github.com/interopgate/interopgate/supervisorclient"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// referencePackage is op-interop-filter's main package, at the version this module requires.
const referencePackage = "github.com/ethereum-optimism/optimism/op-interop-filter/cmd"

// referenceBinary builds op-interop-filter once per test binary (the Go build cache makes later
// builds a link), or takes INTEROPGATE_REFERENCE_BIN.
var referenceBinary = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("INTEROPGATE_REFERENCE_BIN"); p != "" {
		return p, nil
	}
	bin := filepath.Join(os.TempDir(), "interopgate-e2e-op-interop-filter")
	cmd := exec.Command("go", "build", "-o", bin, referencePackage)
	cmd.Env = append(os.Environ(), "GONOSUMDB=github.com/ethereum-optimism")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building op-interop-filter: %v\n%s", err, out)
	}
	return bin, nil
})

// referenceOptions are the reference's settings that the suites vary.
type referenceOptions struct {
	expiryWindow  uint64 // seconds
	reorgRecovery bool
	// adminJWT, when set, is the path of the JWT secret of an admin port the reference opens
	// (--admin.rpc.addr/port, --admin.jwt-secret); reference.adminURL is then its URL.
	adminJWT string
}

// lockedBuffer collects a process's output for the test log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// needReference builds the reference before a test starts its devnet, so that a cold build
// (minutes on a fresh machine) does not leave the devnet's block timestamps behind the clock.
func needReference(t *testing.T) {
	t.Helper()
	if _, err := referenceBinary(); err != nil {
		t.Fatal(err)
	}
}

// startMates builds the reference, starts an on-demand devnet for the suite and mines a block
// of chain 901 that holds three logs from three txs (accounts 0–2): the messages most cases
// are made of.
func startMates(t *testing.T, ctx context.Context) (*devnet.Devnet, []devnet.Emitted) {
	t.Helper()
	needReference(t)
	d, err := devnet.Start(devnet.Config{Accounts: 8, ExpiryWindow: expiryWindow}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.Commit()
	mates, err := d.Chain(901).EmitBlock(ctx, d.Accounts[:3], d.Commit)
	if err != nil {
		t.Fatal(err)
	}
	d.Commit()
	return d, mates
}

// keepUpWithTheClock commits blocks on every chain until the heads are no older than the wall
// clock. The reference reports ready only once it has ingested a block at least as new as its
// own start time, and an on-demand devnet makes blocks only when told (a timed one keeps up by
// itself): a devnet that sat idle while the reference was built or started would never let it
// become ready.
func keepUpWithTheClock(d *devnet.Devnet) {
	for d.Chains[0].OnDemand() && d.Chains[0].Head().Time < uint64(time.Now().Unix()) {
		d.Commit()
	}
}

// reference is a running op-interop-filter.
type reference struct {
	url      string
	adminURL string        // with referenceOptions.adminJWT
	ready    time.Duration // from start to answering checks
	log      *lockedBuffer // its output
}

// startReference runs op-interop-filter against the devnet's chains, with the rollup configs
// the devnet describes, and returns once it answers checks (not -320400).
func startReference(t *testing.T, d *devnet.Devnet, o referenceOptions) reference {
	t.Helper()
	bin, err := referenceBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	args := []string{"--rpc.addr", "127.0.0.1", "--rpc.port", strconv.Itoa(port), "--data-dir", filepath.Join(dir, "data"),
		"--poll-interval", "250ms", "--validation-interval", "250ms", "--backfill-duration", "1h",
		"--message-expiry-window", fmt.Sprintf("%ds", o.expiryWindow), "--log.level", "info"}
	for _, c := range d.Chains {
		file := filepath.Join(dir, fmt.Sprintf("rollup-%d.json", c.ID()))
		data, err := json.Marshal(c.RollupConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--l2-rpcs", c.RPCURL(), "--rollup-configs", file)
	}
	if o.reorgRecovery {
		args = append(args, "--reorg-recovery-enabled")
	}
	adminURL := ""
	if o.adminJWT != "" {
		adminPort := freePort(t)
		args = append(args, "--admin.rpc.addr", "127.0.0.1", "--admin.rpc.port", strconv.Itoa(adminPort), "--admin.jwt-secret", o.adminJWT)
		adminURL = fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	}
	out := new(lockedBuffer)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("op-interop-filter output:\n%s", tail(out.String(), 6000))
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	head := d.Chains[0].Head().Time
	ready := probe{name: "ready", keys: []common.Hash{}, exec: head, chain: "902", safety: "cross-unsafe"}
	// On failure the cleanup above logs the reference's output.
	rpctest.WaitFor(t, "op-interop-filter to answer checks", 2*time.Minute, func() bool {
		keepUpWithTheClock(d)
		a, err := ask(url, ready)
		return err == nil && a.Code == 0
	})
	return reference{url: url, adminURL: adminURL, ready: time.Since(start), log: out}
}

// startLight runs the light filter over the devnet as `interopgate filter` does.
func startLight(t *testing.T, ctx context.Context, d *devnet.Devnet) string {
	t.Helper()
	var chains []light.ChainRPC
	for _, c := range d.Chains {
		chains = append(chains, light.ChainRPC{ChainID: c.ID(), RPC: c.RPCURL()})
	}
	checker, err := light.New(light.Config{Chains: chains, Dependencies: d.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(checker.Close)
	checker.StartWatch(ctx, 250*time.Millisecond, 0)
	api, err := filterapi.New(checker, filterapi.Config{}, filterapi.WithReadiness(checker.Ready),
		filterapi.WithFailsafeSource(checker.Failsafe), filterapi.WithBlockHashes(checker.BlockHash), filterapi.WithLogger(zap.NewNop()))
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Shutdown(context.Background()) })
	return api.URL()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// probe is one interop_checkAccessList call.
type probe struct {
	name    string
	keys    []common.Hash
	exec    uint64 // executing timestamp
	timeout uint64
	chain   string // the executing chain ID as sent: "902" (decimal) or "0x386"
	safety  string
}

func (p probe) call(id int) map[string]any {
	keys := p.keys
	if keys == nil {
		keys = []common.Hash{}
	}
	return map[string]any{"jsonrpc": "2.0", "id": id, "method": "interop_checkAccessList", "params": []any{
		keys, p.safety, map[string]string{"chainID": p.chain, "timestamp": hexutil.EncodeUint64(p.exec), "timeout": hexutil.EncodeUint64(p.timeout)}}}
}

// answer is a filter's answer: code 0 is null (valid).
type answer struct {
	Code    int
	Message string
}

func (a answer) class() string {
	if a.Code == 0 {
		return "valid"
	}
	switch (sc.Classifier{}).Classify(a.Code, a.Message) {
	case sc.ClassInvalid:
		return "invalid"
	case sc.ClassRetryLater:
		return "not yet"
	case sc.ClassFailsafe:
		return "failsafe"
	}
	return "unavailable"
}

type rpcReply struct {
	ID    int `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (r rpcReply) answer() answer {
	if r.Error == nil {
		return answer{}
	}
	return answer{Code: r.Error.Code, Message: r.Error.Message}
}

func post(url string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// ask sends one probe.
func ask(url string, p probe) (answer, error) {
	out, err := post(url, p.call(1))
	if err != nil {
		return answer{}, err
	}
	var r rpcReply
	if err := json.Unmarshal(out, &r); err != nil {
		return answer{}, fmt.Errorf("%w: %s", err, out)
	}
	return r.answer(), nil
}

// latestHash asks a filter for the hash of the latest block it has of chain
// (interop_getBlockHashByNumber).
func latestHash(url string, chain uint64) (common.Hash, error) {
	out, err := post(url, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "interop_getBlockHashByNumber", "params": []any{fmt.Sprint(chain), "latest"}})
	if err != nil {
		return common.Hash{}, err
	}
	var r struct {
		Result *common.Hash `json:"result"`
		Error  any          `json:"error"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Result == nil {
		return common.Hash{}, fmt.Errorf("interop_getBlockHashByNumber: %s", out)
	}
	return *r.Result, nil
}

// askBatch sends every probe in one JSON-RPC batch and returns the answers in probe order.
func askBatch(url string, ps []probe) ([]answer, error) {
	calls := make([]map[string]any, len(ps))
	for i, p := range ps {
		calls[i] = p.call(i)
	}
	out, err := post(url, calls)
	if err != nil {
		return nil, err
	}
	var rs []rpcReply
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	answers := make([]answer, len(ps))
	for _, r := range rs {
		if r.ID < 0 || r.ID >= len(ps) {
			return nil, fmt.Errorf("answer id %d out of range", r.ID)
		}
		answers[r.ID] = r.answer()
	}
	return answers, nil
}

// waitAnswer polls url with p until want holds, returning how long it took.
func waitAnswer(t *testing.T, url string, p probe, d time.Duration, want func(answer) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(d)
	for {
		a, err := ask(url, p)
		if err == nil && want(a) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s: after %s still %+v (%v)", p.name, url, d, a, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the filter against a deadline
	}
}
