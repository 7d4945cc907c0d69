package accesslist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/holiman/uint256"
)

// DefaultExpiryWindow is the protocol's message expiry window: 7 days, in seconds.
const DefaultExpiryWindow uint64 = 604800

// CheckTiming applies the timing rules of protocol.md §5 to one message:
//   - initTS < execTS, strictly;
//   - not expired: initTS + window >= execTS (the window is inclusive);
//   - with a timeout, still valid at execTS + timeout: initTS + window >= execTS + timeout.
//
// An initTS + window that overflows 64 bits is a conflict, as op-interop-filter has it; execTS +
// timeout saturates, so extreme inputs cannot turn a failure into a pass.
func CheckTiming(initTS, execTS, timeout, window uint64) error {
	switch {
	case initTS == execTS:
		return ErrSameTimestamp
	case initTS > execTS:
		return ErrInitAfterExec
	}
	if initTS > math.MaxUint64-window {
		return ErrExpiryOverflow
	}
	deadline := initTS + window
	if deadline < execTS {
		return ErrExpired
	}
	if timeout > 0 && deadline < satAdd(execTS, timeout) {
		return ErrTimeout
	}
	return nil
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// ChainDependency is what the dependency set says of one chain.
type ChainDependency struct {
	// ActivationTime is the timestamp of the chain's interop activation block, if interop was
	// activated after genesis. Zero means interop is active from genesis.
	ActivationTime uint64
}

// DependencySet is the set of chains that may message each other, and the expiry window.
// It is immutable once built and safe for concurrent use.
type DependencySet struct {
	chains map[uint256.Int]ChainDependency
	window uint64
}

// NewDependencySet builds a set of chains, all active from genesis, with the given window
// (0 means DefaultExpiryWindow). A window longer than the default is an error: a dependency set
// may shorten the window, never lengthen it.
func NewDependencySet(chainIDs []uint64, window uint64) (*DependencySet, error) {
	chains := make(map[uint256.Int]ChainDependency, len(chainIDs))
	for _, id := range chainIDs {
		chains[*uint256.NewInt(id)] = ChainDependency{}
	}
	return newDependencySet(chains, window)
}

func newDependencySet(chains map[uint256.Int]ChainDependency, window uint64) (*DependencySet, error) {
	if window == 0 {
		window = DefaultExpiryWindow
	}
	if window > DefaultExpiryWindow {
		return nil, fmt.Errorf("expiry window %d s exceeds the protocol's %d s: a dependency set may only shorten it", window, DefaultExpiryWindow)
	}
	if _, zero := chains[uint256.Int{}]; zero {
		return nil, fmt.Errorf("chain ID 0 cannot be in a dependency set")
	}
	return &DependencySet{chains: chains, window: window}, nil
}

// dependencySetJSON is the op-supervisor / op-interop-filter file format. Per-chain fields of
// the older format (chainIndex, activationTime, historyMinTime) are accepted.
type dependencySetJSON struct {
	Dependencies map[string]struct {
		ChainIndex     *uint64 `json:"chainIndex,omitempty"`
		ActivationTime uint64  `json:"activationTime,omitempty"`
		HistoryMinTime *uint64 `json:"historyMinTime,omitempty"`
	} `json:"dependencies"`
	OverrideMessageExpiryWindow uint64 `json:"overrideMessageExpiryWindow,omitempty"`
}

// ParseDependencySet decodes the dependency-set JSON of protocol.md §5, strictly: unknown keys,
// non-decimal chain IDs and an empty set are errors.
func ParseDependencySet(data []byte) (*DependencySet, error) {
	if err := checkDependencySetJSON(data); err != nil {
		return nil, fmt.Errorf("dependency set: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var raw dependencySetJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("dependency set: %w", jsonErrorAt(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("dependency set: trailing data after the JSON object")
	}
	if len(raw.Dependencies) == 0 {
		return nil, fmt.Errorf("dependency set: \"dependencies\" names no chain")
	}
	chains := make(map[uint256.Int]ChainDependency, len(raw.Dependencies))
	for key, dep := range raw.Dependencies {
		id, err := uint256.FromDecimal(key)
		if err != nil || (len(key) > 1 && key[0] == '0') {
			return nil, fmt.Errorf("dependency set: chain ID %q is not a decimal number", key)
		}
		chains[*id] = ChainDependency{ActivationTime: dep.ActivationTime}
	}
	ds, err := newDependencySet(chains, raw.OverrideMessageExpiryWindow)
	if err != nil {
		return nil, fmt.Errorf("dependency set: %w", err)
	}
	return ds, nil
}

// MarshalJSON writes the set in the file format, chain IDs in ascending order.
func (d *DependencySet) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"dependencies":{`)
	for i, id := range d.ChainIDs() {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.Quote(id.Dec()))
		if at := d.chains[id].ActivationTime; at != 0 {
			fmt.Fprintf(&buf, `:{"activationTime":%d}`, at)
		} else {
			buf.WriteString(`:{}`)
		}
	}
	buf.WriteString(`}`)
	if d.window != DefaultExpiryWindow {
		fmt.Fprintf(&buf, `,"overrideMessageExpiryWindow":%d`, d.window)
	}
	buf.WriteString(`}`)
	return buf.Bytes(), nil
}

// ExpiryWindow is the effective message expiry window in seconds.
func (d *DependencySet) ExpiryWindow() uint64 { return d.window }

// Contains reports whether chain is in the set.
func (d *DependencySet) Contains(chain uint256.Int) bool {
	_, ok := d.chains[chain]
	return ok
}

// ChainIDs lists the chains of the set in ascending order.
func (d *DependencySet) ChainIDs() []uint256.Int {
	ids := make([]uint256.Int, 0, len(d.chains))
	for id := range d.chains {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Lt(&ids[j]) })
	return ids
}

// ExecContext is where and when an executing message is checked: the executing chain, the
// expected inclusion timestamp, and how long after it the message must remain valid.
type ExecContext struct {
	ChainID   uint256.Int
	Timestamp uint64
	Timeout   uint64
}

// CheckMessage applies every rule that needs no remote data: both chains in the set, neither
// timestamp before or at its chain's interop activation block, and the timing rules.
//
// The activation rule assumes block timestamps are aligned to the activation time (the OP Stack
// schedules forks at block boundaries), so the activation block is the one at that timestamp.
func (d *DependencySet) CheckMessage(exec ExecContext, m Message) error {
	execDep, ok := d.chains[exec.ChainID]
	if !ok {
		return fmt.Errorf("%w: executing chain %s", ErrUnknownChain, exec.ChainID.Dec())
	}
	initDep, ok := d.chains[m.ChainID]
	if !ok {
		return fmt.Errorf("%w: initiating chain %s", ErrUnknownChain, m.ChainID.Dec())
	}
	if err := checkActivation(initDep, m.Timestamp); err != nil {
		return fmt.Errorf("initiating chain %s: %w", m.ChainID.Dec(), err)
	}
	if err := checkActivation(execDep, exec.Timestamp); err != nil {
		return fmt.Errorf("executing chain %s: %w", exec.ChainID.Dec(), err)
	}
	return CheckTiming(m.Timestamp, exec.Timestamp, exec.Timeout, d.window)
}

func checkActivation(dep ChainDependency, ts uint64) error {
	if dep.ActivationTime == 0 {
		return nil
	}
	switch {
	case ts < dep.ActivationTime:
		return ErrNotActivated
	case ts == dep.ActivationTime:
		return ErrActivationBlock
	}
	return nil
}

// jsonErrorAt says where in data a JSON decoding error is, as line and column, and names a wrong
// type's field as the file spells it (issue 18: "invalid character '}' looking for beginning
// of value", with no place).
func jsonErrorAt(data []byte, err error) error {
	var offset int64
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		offset = syntax.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
		err = fmt.Errorf("%q must be %s, not a JSON %s", typ.Field, jsonKind(typ.Type.Kind()), typ.Value)
	default:
		return err
	}
	line, col := lineColumn(data, offset)
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}
