package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"go.uber.org/zap/zaptest"

	"github.com/interopgate/interopgate/devnet"
	"github.com/interopgate/interopgate/filterapi"
	"github.com/interopgate/interopgate/internal/redistest"
	"github.com/interopgate/interopgate/internal/rpctest"
	"github.com/interopgate/interopgate/supervisorclient/light"
)

// TestMain lets a test run the real binary in a child process: the test binary re-executes
// itself with INTEROPGATE_TEST_MAIN set, and then behaves as `interopgate <args>`.
func TestMain(m *testing.M) {
	if args := os.Getenv("INTEROPGATE_TEST_MAIN"); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, "INTEROPGATE_TEST_MAIN:", err)
			os.Exit(2)
		}
		os.Args = append([]string{"interopgate"}, argv...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the binary running in another process.
type child struct {
	cmd *exec.Cmd
	url string
}

// startChild runs `interopgate args...` in a child process and waits for the line matching
// ready on its stdout; the first group of the match is returned as url.
func startChild(t testing.TB, ready *regexp.Regexp, args ...string) *child {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "INTEROPGATE_TEST_MAIN="+string(argv))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				once.Do(func() { found <- m[1] })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-found:
		return &child{cmd: cmd, url: url}
	case <-time.After(60 * time.Second):
		t.Fatal("child process did not become ready within 60 s")
	}
	return nil
}

// kill ends the child at once, as a crash or an OOM kill would: no shutdown code runs.
func (c *child) kill(t testing.TB) {
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

func TestAsyncQueueSurvivesKillingTheGatewayProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	redis := redistest.Start(t)
	net, err := devnet.Start(devnet.Config{}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The light filter runs in this process; the gateways in children.
	checker, err := light.New(light.Config{Chains: []light.ChainRPC{{ChainID: 901, RPC: net.Chain(901).RPCURL()}, {ChainID: 902, RPC: net.Chain(902).RPCURL()}},
		Dependencies: net.DependencySet(), CrossUnsafeHead: light.HeadLatest})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	api, err := filterapi.New(checker, filterapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer api.Shutdown(context.Background())

	cfg := writeFile(t, "gateway.toml", fmt.Sprintf(`
[rpc]
addr = "127.0.0.1"
port = 0
[gateway]
chain_id = 902
exec_timestamp_offset = "2m"
async_retry = true
retry_delay = "300ms"
retry_attempts = 100
queue_poll = "50ms"
queue_lease = "3s"
filter_timeout = "1s"
[sentries]
timeout = "1s"
[[sentries.backends]]
name = "geth902"
url = %q
[[filters.endpoints]]
name = "light"
url = %q
[interop]
chains = [901, 902]
[redis]
url = %q
`, net.Chain(902).RPCURL(), api.URL(), redis.URL))
	args := []string{"gateway", "--metrics.enabled=false", "--log.level", "warn", "--config", cfg}

	a := startChild(t, gatewayListening, args...)
	p, err := net.Chain(901).EmitPending(ctx, net.Accounts[0], common.Hash{0x66}, []byte("killed"))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := net.Chain(902).ExecutingTx(ctx, net.Accounts[1], 0, p.Keys())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	client, err := rpcDial(a.url)
	if err != nil {
		t.Fatal(err)
	}
	var hash common.Hash
	if err := client.CallContext(ctx, &hash, "eth_sendRawTransaction", hexutil.Encode(raw)); err != nil || hash != tx.Hash() {
		t.Fatalf("async admission: %v %v", hash, err)
	}
	// Let gateway A re-test (and so claim) the tx at least once, then kill it.
	rpctest.WaitFor(t, "a re-test by gateway A", 30*time.Second, func() bool {
		st := txStatus(t, a.url, tx.Hash())
		return st["status"] == "queued" && st["attempts"].(float64) >= 1
	})
	a.kill(t)
	if _, err := p.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	// Gateway B, a new process on the same Redis, finishes the job.
	b := startChild(t, gatewayListening, args...)
	rpctest.WaitFor(t, "gateway B to forward the tx", 60*time.Second, func() bool {
		st := txStatus(t, b.url, tx.Hash())
		if st["status"] == "dropped" {
			t.Fatalf("dropped: %v", st)
		}
		return st["status"] == "forwarded"
	})
	if _, err := net.Chain(902).WaitReceipt(ctx, tx.Hash()); err != nil {
		t.Fatalf("the tx was not mined: %v", err)
	}
}

func txStatus(t *testing.T, url string, h common.Hash) map[string]any {
	c, err := rpcDial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st map[string]any
	if err := c.Call(&st, "interopgate_getTransactionStatus", h.Hex()); err != nil {
		t.Fatal(err)
	}
	return st
}
