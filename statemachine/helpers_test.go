package statemachine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

var testStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// run parses def, runs it to the end on a virtual clock and returns the
// description and history.
func run(t *testing.T, def, input string, res Resources) (Description, []Event) {
	t.Helper()
	m, err := Parse([]byte(def), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m.Resources = res
	m.Clock = NewVirtualClock(testStart)
	return runOn(t, m, "test", input)
}

func runOn(t *testing.T, m *Machine, name, input string) (Description, []Event) {
	t.Helper()
	// The execution outlives this call's wait: continuations it starts
	// inherit its (background) context.
	e, err := m.Start(context.Background(), name, json.RawMessage(input))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := e.Wait(ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return d, e.History()
}

// mustSucceed runs def and returns its output, failing the test unless the
// execution succeeded.
func mustSucceed(t *testing.T, def, input string, res Resources) string {
	t.Helper()
	d, h := run(t, def, input, res)
	if d.Status != StatusSucceeded {
		t.Fatalf("status %s, error %q, cause %q; history:\n%s", d.Status, d.Error, d.Cause, dumpHistory(h))
	}
	return string(d.Output)
}

// mustFail runs def and returns the error and cause of the failed
// execution.
func mustFail(t *testing.T, def, input string, res Resources) (string, string) {
	t.Helper()
	d, h := run(t, def, input, res)
	if d.Status != StatusFailed {
		t.Fatalf("status %s (output %s), want FAILED; history:\n%s", d.Status, d.Output, dumpHistory(h))
	}
	return d.Error, d.Cause
}

func dumpHistory(h []Event) string {
	var s string
	for _, e := range h {
		s += e.Type + " " + e.StateName + " " + string(e.Input) + string(e.Output) + " " + e.Error + " " + e.Cause + "\n"
	}
	return s
}

// canon re-encodes JSON text so that key order and spacing do not matter.
func canon(t *testing.T, s string) string {
	t.Helper()
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return string(mustEncode(v))
}

func assertJSON(t *testing.T, got, want string) {
	t.Helper()
	if canon(t, got) != canon(t, want) {
		t.Errorf("got  %s\nwant %s", canon(t, got), canon(t, want))
	}
}

// echo is a Resources that returns its parameters.
var echo = ResourcesFunc(func(_ context.Context, _ string, p json.RawMessage) (json.RawMessage, error) { return p, nil })

// fixed returns a Resources that always answers with out.
func fixed(out string) Resources {
	return ResourcesFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(out), nil
	})
}

func eventTypes(h []Event) []string {
	var out []string
	for _, e := range h {
		out = append(out, e.Type)
	}
	return out
}

type (
	ctxT = context.Context
	rawT = json.RawMessage
)

func newTestRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
