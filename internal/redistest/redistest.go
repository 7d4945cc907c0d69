// Package redistest gives tests a real Redis: the shared one the test script starts
// (INTEROPGATE_TEST_REDIS_URL), or a private redis-server the test can stop and restart to
// simulate an outage. Without redis-server the tests skip, except under CI, where they fail.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// SharedURL returns the test script's Redis URL.
func SharedURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("INTEROPGATE_TEST_REDIS_URL")
	if u == "" {
		missing(t, "INTEROPGATE_TEST_REDIS_URL is not set (run the tests with `make test`)")
	}
	return u
}

func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// Server is a private redis-server on a loopback port.
type Server struct {
	URL  string
	Addr string // host:port
	port int
	args []string // extra redis-server arguments
	conf string   // a config file given before the arguments (sentinels need one)
	dir  string
	cmd  *exec.Cmd
	t    testing.TB
}

// Start starts a private redis-server; it is stopped when the test ends.
func Start(t testing.TB) *Server { return StartWith(t) }

// StartCluster starts a private redis-server as a Redis Cluster of one node holding every slot:
// a Cluster as a client sees it, from one address.
func StartCluster(t testing.TB) *Server {
	t.Helper()
	s := StartWith(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	out, err := exec.Command("redis-cli", "-p", fmt.Sprint(s.port), "cluster", "addslotsrange", "0", "16383").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli cluster addslotsrange: %v: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := exec.Command("redis-cli", "-p", fmt.Sprint(s.port), "cluster", "info").CombinedOutput()
		if strings.Contains(string(out), "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the one-node cluster did not become ok within 10 s: %s", out)
		}
		time.Sleep(20 * time.Millisecond) // polling the cluster's state against a deadline
	}
}

// StartWith starts a private redis-server with extra arguments.
func StartWith(t testing.TB, args ...string) *Server {
	t.Helper()
	return startWithConfig(t, "", args...)
}

// startWithConfig starts a private redis-server reading conf (when set) and extra arguments.
func startWithConfig(t testing.TB, conf string, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		missing(t, "redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), Addr: fmt.Sprintf("127.0.0.1:%d", port), port: port, dir: t.TempDir(), t: t, args: args, conf: conf}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on the same port (after Stop), with the data it had saved.
func (s *Server) Restart() {
	s.t.Helper()
	var args []string
	if s.conf != "" {
		args = append(args, s.conf)
	}
	args = append(args, "--bind", "127.0.0.1", "--port", fmt.Sprint(s.port), "--dir", s.dir)
	if s.conf == "" { // sentinels keep no data
		args = append(args, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	}
	s.cmd = exec.Command("redis-server", append(args, s.args...)...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server did not accept connections within 10 s: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the port against a deadline
	}
}

// Stop kills the server (as an outage would).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
