//go:build !wasip1

package guest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wsplug/wsplug/abi"
)

// Sim plays the host for a plugin's own tests, on platforms other than
// wasip1: it calls the registered functions through the same paths as a
// host's calls, with the input, config and values it holds.
type Sim struct {
	// Config is encoded as JSON for Config and DecodeConfig.
	Config any
	// Values answer Value; Denied names values that need a capability the
	// simulated plugin lacks.
	Values map[string]string
	Denied map[string]bool
	// Logs collects what the plugin logged, as "LEVEL message".
	Logs []string
}

// sim is the simulation a call runs under.
var sim struct {
	*Sim
	input  []byte
	output []byte
	errMsg string
}

func (s *Sim) start(in []byte) {
	sim.Sim, sim.input, sim.output, sim.errMsg = s, in, nil, ""
	configCache = nil
}

func (s *Sim) result(status abi.Status) error {
	if status == abi.StatusError {
		return errors.New(sim.errMsg)
	}
	return nil
}

func (s *Sim) find(kind, name string) (int32, error) {
	var names []string
	switch kind {
	case abi.KindClientID:
		for _, p := range clientIDs {
			names = append(names, p.name)
		}
	case abi.KindPlaceholder:
		for _, p := range placeholders {
			names = append(names, p.name)
		}
	case abi.KindTransform:
		for _, p := range transforms {
			names = append(names, p.name)
		}
	}
	for i, n := range names {
		if n == name {
			return int32(i), nil
		}
	}
	return 0, fmt.Errorf("no %s %q registered", kind, name)
}

// Init runs the OnInit functions.
func (s *Sim) Init() error {
	s.start(nil)
	return s.result(runInit())
}

// Describe returns the describe output a host would read.
func (s *Sim) Describe() string {
	s.start(nil)
	runDescribe()
	return string(sim.output)
}

// ClientID calls the client_id format name.
func (s *Sim) ClientID(name string) (string, error) {
	i, err := s.find(abi.KindClientID, name)
	if err != nil {
		return "", err
	}
	s.start(nil)
	if err := s.result(runClientID(i)); err != nil {
		return "", err
	}
	return string(sim.output), nil
}

// Placeholder resolves {name:arg}; JSON values come back decoded.
func (s *Sim) Placeholder(name, arg string) (any, error) {
	i, err := s.find(abi.KindPlaceholder, name)
	if err != nil {
		return nil, err
	}
	s.start([]byte(arg))
	status := runPlaceholder(i)
	if err := s.result(status); err != nil {
		return nil, err
	}
	if status == abi.StatusJSON {
		var v any
		err := json.Unmarshal(sim.output, &v)
		return v, err
	}
	return string(sim.output), nil
}

// Transform runs the transform name on data. out is the payload after it:
// data itself when it passes, nil when it is dropped.
func (s *Sim) Transform(
	name string,
	data []byte,
	incoming, binary bool,
) (out []byte, dropped bool, err error) {
	i, err := s.find(abi.KindTransform, name)
	if err != nil {
		return nil, false, err
	}
	var flags int32
	if incoming {
		flags |= abi.FlagIncoming
	}
	if binary {
		flags |= abi.FlagBinary
	}
	s.start(data)
	switch status := runTransform(i, flags); status {
	case abi.StatusOK:
		return data, false, nil
	case abi.StatusReplace:
		return sim.output, false, nil
	case abi.StatusDrop:
		return nil, true, nil
	case abi.StatusError:
		return nil, false, s.result(status)
	default:
		return nil, false, fmt.Errorf("transform returned %v", status)
	}
}

// The simulated host functions.

func readInto(p []byte, v []byte) int32 {
	if len(v) <= len(p) {
		copy(p, v)
	}
	return int32(len(v))
}

func inputRead(p []byte) int32 { return readInto(p, sim.input) }

func outputSet(p []byte) int32 {
	sim.output = append([]byte{}, p...)
	return abi.OutputOK
}

func errorSet(msg string) { sim.errMsg = msg }

func configRead(p []byte) int32 {
	b, err := json.Marshal(sim.Config)
	if err != nil {
		panic(err)
	}
	return readInto(p, b)
}

func valueRead(name string, p []byte) int32 {
	if sim.Denied[name] {
		return abi.ReadDenied
	}
	v, ok := sim.Values[name]
	if !ok {
		return abi.ReadNotFound
	}
	return readInto(p, []byte(v))
}

func logWrite(level int32, msg string) {
	sim.Logs = append(sim.Logs, fmt.Sprintf("%d %s", level, msg))
}

func logEnabled(int32) bool { return true }
