//go:build race

package revalidator

// raceEnabled: the race detector slows this process several times over, and the op-reth rig's
// in-process chain, model and revalidator race each other's clocks (test.sh runs those tests
// again without it).
const raceEnabled = true
