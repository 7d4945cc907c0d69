package redistest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/interopgate/interopgate/internal/rpctest"
)

// cli runs redis-cli against the server on port and returns its output.
func cli(port int, args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", fmt.Sprint(port)}, args...)...).CombinedOutput()
	return string(out), err
}

// Cluster is a Redis Cluster of masters, each with one replica, on loopback ports.
type Cluster struct {
	Nodes []*Server
	t     testing.TB
}

// StartClusterWithReplicas starts a Redis Cluster of masters masters, each with one replica, and
// waits until every replica is in sync. Nodes notice a dead peer after 1 s
// (cluster-node-timeout), so a replica is promoted within a few seconds of its master's death.
func StartClusterWithReplicas(t testing.TB, masters int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	var addrs []string
	for range 2 * masters {
		s := StartWith(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000")
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	out, err := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	rpctest.WaitFor(t, "redistest: the cluster ok on every node, each master with a replica in sync", 30*time.Second, func() bool {
		for _, n := range c.Nodes {
			if info, _ := cli(n.port, "cluster", "info"); !strings.Contains(info, "cluster_state:ok") {
				return false
			}
		}
		return len(c.masters()) == masters && c.replicasInSync() == masters
	})
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string
	isMaster, failed bool
}

// nodes reads CLUSTER NODES from the first live node.
func (c *Cluster) nodes() []clusterNode {
	for _, n := range c.Nodes {
		if n.cmd == nil {
			continue
		}
		out, err := cli(n.port, "cluster", "nodes")
		if err != nil {
			continue
		}
		var list []clusterNode
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			list = append(list, clusterNode{id: f[0], addr: strings.Split(f[1], "@")[0], master: f[3],
				isMaster: strings.Contains(f[2], "master"), failed: strings.Contains(f[2], "fail")})
		}
		return list
	}
	return nil
}

func (c *Cluster) masters() []clusterNode {
	var out []clusterNode
	for _, n := range c.nodes() {
		if n.isMaster && !n.failed {
			out = append(out, n)
		}
	}
	return out
}

// replicasInSync counts replicas whose link to their master is up.
func (c *Cluster) replicasInSync() int {
	n := 0
	for _, s := range c.Nodes {
		if info, _ := cli(s.port, "info", "replication"); strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up") {
			n++
		}
	}
	return n
}

// KillMaster kills -9 a master and returns a function that reports whether its replica has
// been promoted (it serves the slots as a master).
func (c *Cluster) KillMaster() (promoted func() bool) {
	c.t.Helper()
	m := c.masters()[0]
	var replica string
	for _, n := range c.nodes() {
		if n.master == m.id {
			replica = n.addr
		}
	}
	for _, s := range c.Nodes {
		if s.Addr == m.addr {
			s.Stop()
		}
	}
	return func() bool {
		for _, s := range c.Nodes {
			if s.Addr == replica && s.cmd != nil {
				info, _ := cli(s.port, "info", "replication")
				return strings.Contains(info, "role:master")
			}
		}
		return false
	}
}

// Sentinel is a Redis master with one replica, watched by three sentinels.
type Sentinel struct {
	Master, Replica *Server
	Sentinels       []*Server
	// Name is the monitored master's name.
	Name string
	t    testing.TB
}

// StartSentinel starts a master, its replica and three sentinels (quorum 2) that call the master
// down after 1 s without an answer.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{Name: "interopgate-test", t: t}
	s.Master = StartWith(t)
	s.Replica = StartWith(t, "--replicaof", "127.0.0.1", fmt.Sprint(s.Master.port))
	rpctest.WaitFor(t, "redistest: the replica in sync", 30*time.Second, func() bool {
		info, _ := cli(s.Replica.port, "info", "replication")
		return strings.Contains(info, "master_link_status:up")
	})
	for i := range 3 {
		conf := filepath.Join(t.TempDir(), fmt.Sprintf("sentinel-%d.conf", i))
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			s.Name, s.Master.port, s.Name, s.Name, s.Name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, startWithConfig(t, conf, "--sentinel"))
	}
	rpctest.WaitFor(t, "redistest: every sentinel knowing the replica and the other sentinels", 30*time.Second, func() bool {
		for _, sn := range s.Sentinels {
			out, _ := cli(sn.port, "sentinel", "master", s.Name)
			if !strings.Contains(out, "num-slaves\n1") || !strings.Contains(out, "num-other-sentinels\n2") {
				return false
			}
		}
		return true
	})
	return s
}

// Addrs are the sentinels' host:port addresses.
func (s *Sentinel) Addrs() []string {
	var out []string
	for _, n := range s.Sentinels {
		out = append(out, n.Addr)
	}
	return out
}

// KillMaster kills -9 the master and returns a function that reports whether the sentinels
// have promoted the replica.
func (s *Sentinel) KillMaster() (promoted func() bool) {
	s.Master.Stop()
	return func() bool {
		out, _ := cli(s.Sentinels[0].port, "sentinel", "get-master-addr-by-name", s.Name)
		return strings.Contains(out, fmt.Sprint(s.Replica.port))
	}
}
