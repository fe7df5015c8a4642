package statemachine

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits the service enforces (Step Functions quotas; see the package doc).
const (
	// MaxPayloadBytes bounds every state input, state output, task result
	// and execution input: 256 KiB of UTF-8.
	MaxPayloadBytes = 262144
	// MaxHistoryEvents is a Standard execution's history cap; the execution
	// fails when it would exceed it.
	MaxHistoryEvents = 25000
	// lambdaMaxResponseBytes is Lambda's synchronous response limit.
	lambdaMaxResponseBytes = 6 * 1024 * 1024
	// nameRetention is how long a closed execution's name stays taken.
	nameRetention = 90 * 24 * time.Hour
)

// Resources runs the work of Task states.
//
// For arn:aws:states:::lambda:invoke and bare Lambda function ARNs,
// resource is the function name or ARN (FunctionName, with Qualifier
// appended after ':' when given) and params is the payload the function
// receives; the returned JSON is the function's response. For every other
// integration (batch:submitJob[.sync], sns:publish, startExecution of
// another state machine) resource is the integration ARN and params the
// task's effective Parameters; the returned JSON is the task result.
//
// Invoke must honour ctx: it is cancelled when the task times out or the
// execution stops. The task fails at that moment either way; an Invoke
// that ignores ctx runs on, and its result is dropped. An error of type *TaskError fails the task with that
// error name and cause; any other error fails it as States.TaskFailed.
type Resources interface {
	Invoke(ctx context.Context, resource string, params json.RawMessage) (json.RawMessage, error)
}

// ResourcesFunc adapts a function to Resources.
type ResourcesFunc func(ctx context.Context, resource string, params json.RawMessage) (json.RawMessage, error)

func (f ResourcesFunc) Invoke(ctx context.Context, resource string, params json.RawMessage) (json.RawMessage, error) {
	return f(ctx, resource, params)
}

// Machine is a parsed, validated state machine and the executions started
// on it. Set its exported fields before the first Start; they are read, not
// guarded, afterwards. A Machine is safe for concurrent use by several
// goroutines once started.
type Machine struct {
	// Name of the state machine ("lorafn-tune" if empty).
	Name string
	// ARN of the state machine; empty: built from Name in region us-east-1
	// and account 123456789012. states:startExecution tasks that target
	// this ARN start executions of this Machine.
	ARN string
	// Resources runs Task states; required if the definition has any.
	Resources Resources
	// Clock; nil means RealClock.
	Clock Clock
	// HistoryLimit overrides MaxHistoryEvents when positive (for tests).
	HistoryLimit int

	g *graph

	mu         sync.Mutex
	executions map[string]*Execution
	started    []*Execution
}

// Parse reads a JSONPath-dialect ASL definition after replacing each
// ${Name} with substitutions[Name] (CloudFormation's
// DefinitionSubstitutions). The definition is validated completely: an
// unknown state type or field, a missing Next or End, a transition to a
// missing state, an unreachable state, a malformed path, template or
// intrinsic, a bad retrier or an unsupported Task resource is a
// *DefinitionError naming the state and field.
func Parse(definition []byte, substitutions map[string]string) (*Machine, error) {
	def, err := substitute(definition, substitutions)
	if err != nil {
		return nil, err
	}
	g, err := parseDefinition(def)
	if err != nil {
		return nil, err
	}
	return &Machine{g: g, executions: map[string]*Execution{}}, nil
}

func (m *Machine) name() string {
	if m.Name != "" {
		return m.Name
	}
	return "lorafn-tune"
}

func (m *Machine) arn() string {
	if m.ARN != "" {
		return m.ARN
	}
	return "arn:aws:states:us-east-1:123456789012:stateMachine:" + m.name()
}

func (m *Machine) clock() Clock {
	if m.Clock != nil {
		return m.Clock
	}
	return RealClock{}
}

func (m *Machine) historyLimit() int {
	if m.HistoryLimit > 0 {
		return m.HistoryLimit
	}
	return MaxHistoryEvents
}

// executionARN is the ARN of an execution of this machine.
func (m *Machine) executionARN(name string) string {
	arn := m.arn()
	if i := strings.Index(arn, ":stateMachine:"); i >= 0 {
		return arn[:i] + ":execution:" + arn[i+len(":stateMachine:"):] + ":" + name
	}
	return arn + ":" + name
}

// ValidateExecutionName applies the service's rules: 1-80 characters, no
// whitespace, none of < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /, and no
// control characters (U+0000-001F, U+007F-009F).
func ValidateExecutionName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > maxNameChars {
		return &APIError{Code: ErrInvalidName, Message: fmt.Sprintf("execution name must be 1-%d characters, got %d", maxNameChars, n)}
	}
	for _, r := range name {
		if unicode.IsSpace(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) || r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
			return &APIError{Code: ErrInvalidName, Message: fmt.Sprintf("execution name %q contains the forbidden character %q", name, r)}
		}
	}
	return nil
}

// Start begins an execution and returns at once; use Wait for its result.
// The execution runs until it ends, ctx is cancelled (then it is ABORTED)
// or Stop is called. An empty name gets a generated UUID, as the service
// does; an empty input is {}.
//
// Names follow StartExecution: reusing the name of an execution that is
// still running with the same input returns that execution and starts
// nothing; a different input, or a name whose execution has closed (within
// 90 days), is an *APIError with Code ExecutionAlreadyExists. A bad name is
// InvalidName; input that is not JSON or exceeds 256 KiB is
// InvalidExecutionInput.
func (m *Machine) Start(ctx context.Context, name string, input json.RawMessage) (*Execution, error) {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	if len(input) > MaxPayloadBytes {
		return nil, &APIError{Code: ErrInvalidExecutionInput, Message: fmt.Sprintf("input is %d bytes, over the %d-byte limit", len(input), MaxPayloadBytes)}
	}
	val, err := decodeJSON(input)
	if err != nil {
		return nil, &APIError{Code: ErrInvalidExecutionInput, Message: fmt.Sprintf("input is not JSON: %v", err)}
	}
	canon := mustEncode(val)
	clk := m.clock()

	m.mu.Lock()
	defer m.mu.Unlock()
	if name == "" {
		name = uuidFrom(rand.New(rand.NewPCG(uint64(clk.Now().UnixNano()), uint64(len(m.started)))))
	}
	if err := ValidateExecutionName(name); err != nil {
		return nil, err
	}
	if prev, ok := m.executions[name]; ok {
		d := prev.Describe()
		switch {
		case d.Status == StatusRunning && string(prev.canonInput) == string(canon):
			return prev, nil
		case d.Status == StatusRunning || clk.Now().Sub(d.StopDate) < nameRetention:
			return nil, &APIError{Code: ErrExecutionAlreadyExists, Message: fmt.Sprintf("execution %q already exists (%s)", name, d.Status)}
		}
	}
	e := newExecution(ctx, m, name, val, canon)
	m.executions[name] = e
	m.started = append(m.started, e)
	go e.run()
	return e, nil
}

// Run starts an execution and waits for it to end.
func (m *Machine) Run(ctx context.Context, name string, input json.RawMessage) (*Execution, Description, error) {
	e, err := m.Start(ctx, name, input)
	if err != nil {
		return nil, Description{}, err
	}
	d, err := e.Wait(ctx)
	return e, d, err
}

// Execution returns the execution with this name, if one was started.
func (m *Machine) Execution(name string) (*Execution, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.executions[name]
	return e, ok
}

// Executions lists every execution started on m, oldest first.
func (m *Machine) Executions() []*Execution {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Execution(nil), m.started...)
}

func uuidFrom(r *rand.Rand) string {
	v, _ := (&intrinsicCall{name: "States.UUID"}).apply(nil, &evalEnv{rng: r})
	return v.(string)
}

// seedFor derives an execution's random seed from its ARN, so that jitter,
// States.UUID and States.MathRandom repeat for a repeated execution.
func seedFor(arn string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(arn))
	return h.Sum64()
}
