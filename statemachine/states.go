package statemachine

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// runner walks the states of one execution.
type runner struct{ e *Execution }

// contextObject builds $$ for a state (developer guide, "Accessing
// execution data from the Context object").
func (r *runner) contextObject(s *state, entered time.Time, retryCount int) map[string]any {
	c := make(map[string]any, len(r.e.ctxObj)+2)
	for k, v := range r.e.ctxObj {
		c[k] = v
	}
	c["State"] = map[string]any{
		"Name":        s.name,
		"EnteredTime": formatTime(entered),
		"RetryCount":  number(int64(retryCount)),
	}
	return c
}

func (r *runner) env(input any, ctxObj map[string]any) *evalEnv {
	return &evalEnv{input: input, context: ctxObj, rng: r.e.rng}
}

// runGraph runs states from g.startAt until one ends the graph, and returns
// the last state's output.
func (r *runner) runGraph(ctx context.Context, g *graph, input any) (any, error) {
	name, cur := g.startAt, input
	for {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		s := g.states[name]
		out, next, err := r.runState(ctx, s, cur)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if next == "" {
			return out, nil
		}
		name, cur = next, out
	}
}

// runState runs one state on its raw input and returns its output and the
// next state's name ("" when the graph ends here).
func (r *runner) runState(ctx context.Context, s *state, raw any) (any, string, error) {
	entered := r.e.m.clock().Now()
	in, err := checkSize("state input", raw)
	if err != nil {
		return nil, "", err
	}
	r.e.event(Event{Type: s.typ + "StateEntered", StateName: s.name, Input: in})
	switch s.typ {
	case "Task", "Map", "Parallel":
		return r.runRetrying(ctx, s, raw, entered)
	case "Fail":
		return nil, "", r.failState(s, raw, entered)
	}
	eff, err := inputPath(s, raw)
	if err != nil {
		return nil, "", err
	}
	ctxObj := r.contextObject(s, entered, 0)
	next := s.next
	var result any
	switch s.typ {
	case "Pass":
		result = eff
		if s.parameters != nil {
			if result, err = r.applyParameters(s, eff, ctxObj); err != nil {
				return nil, "", err
			}
		}
		if s.hasResult {
			result = s.result
		}
		out, err := r.finish(s, raw, result)
		if err != nil {
			return nil, "", err
		}
		r.exited(s, out)
		return out, next, nil
	case "Choice":
		next = ""
		for _, rule := range s.choices {
			ok, err := rule.eval(eff, ctxObj)
			if err != nil {
				return nil, "", err
			}
			if ok {
				next = rule.next
				break
			}
		}
		if next == "" {
			if s.dflt == "" {
				return nil, "", failure(ErrNoChoiceMatched, "no Choice Rule matched and no Default is given in state %q", s.name)
			}
			next = s.dflt
		}
	case "Wait":
		if err := r.wait(ctx, s, eff); err != nil {
			return nil, "", err
		}
	case "Succeed":
	}
	out, err := outputPath(s, eff)
	if err != nil {
		return nil, "", err
	}
	if _, err := checkSize("state output", out); err != nil {
		return nil, "", err
	}
	r.exited(s, out)
	return out, next, nil
}

func (r *runner) exited(s *state, out any) {
	r.e.event(Event{Type: s.typ + "StateExited", StateName: s.name, Output: mustEncode(out)})
}

// checkSize enforces the 256 KiB payload limit and returns the encoding.
func checkSize(what string, v any) ([]byte, error) {
	b := mustEncode(v)
	if len(b) > MaxPayloadBytes {
		return nil, dataLimit(what, len(b))
	}
	return b, nil
}

// inputPath applies InputPath: absent is "$", null is an empty object.
func inputPath(s *state, raw any) (any, error) {
	switch {
	case s.inputPath.null:
		return map[string]any{}, nil
	case s.inputPath.p == nil:
		return raw, nil
	}
	v, err := s.inputPath.p.get(raw)
	if err != nil {
		return nil, failure(ErrRuntime, "Invalid path '%s' : No results for path: %s", s.inputPath.p, s.inputPath.p)
	}
	return v, nil
}

// outputPath applies OutputPath: absent is "$", null is an empty object.
func outputPath(s *state, v any) (any, error) {
	switch {
	case s.outputPath.null:
		return map[string]any{}, nil
	case s.outputPath.p == nil:
		return v, nil
	}
	out, err := s.outputPath.p.get(v)
	if err != nil {
		return nil, failure(ErrRuntime, "Invalid path '%s' : No results for path: %s", s.outputPath.p, s.outputPath.p)
	}
	return out, nil
}

// applyResultPath combines the state's raw input with its result: absent
// or "$" keeps only the result, null keeps only the input, any other
// reference path writes the result into (a copy of) the input.
func applyResultPath(rp resultPath, raw, result any) (any, error) {
	switch {
	case rp.null:
		return raw, nil
	case rp.p == nil || len(rp.p.segs) == 0:
		return result, nil
	}
	out, err := rp.p.set(raw, result)
	if err != nil {
		return nil, failure(ErrResultPathMatchFailure, "Unable to apply ResultPath '%s' to input: %v", rp.p, err)
	}
	return out, nil
}

func (r *runner) applyParameters(s *state, eff any, ctxObj map[string]any) (any, error) {
	v, err := s.parameters.apply(r.env(eff, ctxObj))
	if isTemplatePathError(err) {
		return nil, failure(ErrParameterPathFailure, "%v", err)
	}
	return v, err
}

// finish applies ResultPath and OutputPath to a result and checks the
// output's size.
func (r *runner) finish(s *state, raw, result any) (any, error) {
	out, err := applyResultPath(s.resultPath, raw, result)
	if err != nil {
		return nil, err
	}
	if out, err = outputPath(s, out); err != nil {
		return nil, err
	}
	if _, err := checkSize("state output", out); err != nil {
		return nil, err
	}
	return out, nil
}

// runRetrying runs a Task, Map or Parallel state with its Retry and Catch
// (ASL spec, "Retrying after error" and "Fallback states"): the first
// retrier whose ErrorEquals matches decides; once its MaxAttempts are used
// up the catchers are scanned, and the first match sends the error output
// {"Error", "Cause"} through its ResultPath to its Next.
func (r *runner) runRetrying(ctx context.Context, s *state, raw any, entered time.Time) (any, string, error) {
	eff, err := inputPath(s, raw)
	if err != nil {
		return nil, "", err
	}
	attempts := make([]int, len(s.retry))
	for retryCount := 0; ; retryCount++ {
		ctxObj := r.contextObject(s, entered, retryCount)
		out, err := r.attempt(ctx, s, raw, eff, ctxObj)
		if err == nil {
			r.exited(s, out)
			return out, s.next, nil
		}
		if ctx.Err() != nil {
			return nil, "", context.Cause(ctx)
		}
		te := asTaskError(err)
		if i := matchFirst(len(s.retry), func(i int) []string { return s.retry[i].errorEquals }, te); i >= 0 && attempts[i] < s.retry[i].maxAttempts {
			d := s.retry[i].delay(attempts[i], r.e.rng)
			attempts[i]++
			if err := r.e.m.clock().Sleep(ctx, d); err != nil {
				return nil, "", context.Cause(ctx)
			}
			continue
		}
		if i := matchFirst(len(s.catch), func(i int) []string { return s.catch[i].errorEquals }, te); i >= 0 {
			c := s.catch[i]
			out, err := applyResultPath(c.resultPath, raw, map[string]any{"Error": te.Name, "Cause": te.Cause})
			if err != nil {
				return nil, "", failure(ErrRuntime, "catcher %d of state %q: %v", i, s.name, err)
			}
			if _, err := checkSize("state output", out); err != nil {
				return nil, "", err
			}
			r.exited(s, out)
			return out, c.next, nil
		}
		return nil, "", te
	}
}

// attempt is one try of a Task, Map or Parallel state after InputPath.
func (r *runner) attempt(ctx context.Context, s *state, raw, eff any, ctxObj map[string]any) (any, error) {
	var result any
	var err error
	switch s.typ {
	case "Task":
		params := eff
		if s.parameters != nil {
			if params, err = r.applyParameters(s, eff, ctxObj); err != nil {
				return nil, err
			}
		}
		result, err = r.runTask(ctx, s, eff, params)
	case "Map":
		result, err = r.runMap(ctx, s, eff, ctxObj)
	case "Parallel":
		params := eff
		if s.parameters != nil {
			if params, err = r.applyParameters(s, eff, ctxObj); err != nil {
				return nil, err
			}
		}
		result, err = r.runParallel(ctx, s, params)
	}
	if err != nil {
		return nil, err
	}
	if _, err := checkSize("task result", result); err != nil {
		return nil, err
	}
	if s.resultSelector != nil {
		result, err = s.resultSelector.apply(r.env(result, ctxObj))
		if isTemplatePathError(err) {
			return nil, failure(ErrRuntime, "ResultSelector: %v", err)
		}
		if err != nil {
			return nil, err
		}
	}
	return r.finish(s, raw, result)
}

// matchFirst returns the index of the first retrier or catcher whose
// ErrorEquals matches te, or -1.
//
// Matching follows the developer guide ("Error names"): a name matches
// itself; States.ALL matches every error except States.Runtime and
// States.DataLimitExceeded, which are terminal; States.TaskFailed matches
// every error except States.Timeout and those two. States.Runtime is never
// retried or caught.
func matchFirst(n int, names func(int) []string, te *TaskError) int {
	if te.Name == ErrRuntime {
		return -1
	}
	terminal := te.Name == ErrDataLimitExceeded
	for i := 0; i < n; i++ {
		for _, name := range names(i) {
			switch {
			case name == te.Name:
				return i
			case name == ErrAll && !terminal:
				return i
			case name == ErrTaskFailed && !terminal && te.Name != ErrTimeout:
				return i
			}
		}
	}
	return -1
}

// delay is the wait before retry number attempt+1: IntervalSeconds ×
// BackoffRate^attempt, capped by MaxDelaySeconds; JitterStrategy FULL
// draws uniformly from [0, delay].
func (rt retrier) delay(attempt int, rng *rand.Rand) time.Duration {
	secs := float64(rt.intervalSeconds) * math.Pow(rt.backoffRate, float64(attempt))
	if rt.maxDelaySeconds > 0 && secs > float64(rt.maxDelaySeconds) {
		secs = float64(rt.maxDelaySeconds)
	}
	if rt.jitterFull {
		secs *= rng.Float64()
	}
	if secs > 99999999 {
		secs = 99999999
	}
	return time.Duration(secs * float64(time.Second))
}

func (r *runner) wait(ctx context.Context, s *state, eff any) error {
	clk := r.e.m.clock()
	var d time.Duration
	switch {
	case s.seconds != nil:
		d = time.Duration(*s.seconds) * time.Second
	case s.secondsPath != nil:
		v, err := s.secondsPath.get(eff)
		n, ok := toInt(v)
		if err != nil || !ok || n < 0 {
			return failure(ErrRuntime, "SecondsPath %s must select a non-negative integer, got %s", s.secondsPath, mustEncode(v))
		}
		d = time.Duration(n) * time.Second
	case s.timestamp != nil:
		d = s.timestamp.Sub(clk.Now())
	case s.timestampPath != nil:
		v, err := s.timestampPath.get(eff)
		str, ok := v.(string)
		t, ok2 := parseTimestamp(str)
		if err != nil || !ok || !ok2 {
			return failure(ErrRuntime, "TimestampPath %s must select an RFC 3339 timestamp, got %s", s.timestampPath, mustEncode(v))
		}
		d = t.Sub(clk.Now())
	}
	if d <= 0 {
		return nil
	}
	if err := clk.Sleep(ctx, d); err != nil {
		return context.Cause(ctx)
	}
	return nil
}

// failState ends the graph with the Fail state's error and cause, taken
// from Error/Cause or computed by ErrorPath/CausePath from the raw input.
func (r *runner) failState(s *state, raw any, entered time.Time) error {
	errName, cause := s.errorName, s.cause
	env := r.env(raw, r.contextObject(s, entered, 0))
	for _, f := range []struct {
		e   *expr
		dst *string
		fld string
	}{{s.errorExpr, &errName, "ErrorPath"}, {s.causeExpr, &cause, "CausePath"}} {
		if f.e == nil {
			continue
		}
		v, err := f.e.eval(env)
		if err != nil {
			return failure(ErrRuntime, "%s of state %q: %v", f.fld, s.name, err)
		}
		str, ok := v.(string)
		if !ok {
			return failure(ErrRuntime, "%s of state %q must produce a string, got %s", f.fld, s.name, mustEncode(v))
		}
		*f.dst = str
	}
	return &TaskError{Name: errName, Cause: cause}
}

// runMap runs an inline Map state: one iteration of the ItemProcessor per
// element of ItemsPath, at most MaxConcurrency at a time (0: no limit);
// the result is the array of iteration outputs in item order. The first
// failing iteration fails the state and stops the others.
func (r *runner) runMap(ctx context.Context, s *state, eff any, ctxObj map[string]any) (any, error) {
	itemsVal := eff
	if s.itemsPath != nil {
		v, err := s.itemsPath.get(eff)
		if err != nil {
			return nil, failure(ErrRuntime, "Invalid path '%s': the ItemsPath selects nothing", s.itemsPath)
		}
		itemsVal = v
	}
	items, ok := itemsVal.([]any)
	if !ok {
		return nil, failure(ErrRuntime, "ItemsPath must select a JSON array, got a %s", jsonType(itemsVal))
	}
	n := len(items)
	r.e.event(Event{Type: "MapStateStarted", StateName: s.name, Length: &n})
	inputs := make([]any, n)
	for i, item := range items {
		inputs[i] = item
		if s.itemSelector != nil {
			c := make(map[string]any, len(ctxObj)+1)
			for k, v := range ctxObj {
				c[k] = v
			}
			c["Map"] = map[string]any{"Item": map[string]any{"Index": number(int64(i)), "Value": item}}
			v, err := s.itemSelector.apply(r.env(eff, c))
			if isTemplatePathError(err) {
				return nil, failure(ErrParameterPathFailure, "ItemSelector: %v", err)
			}
			if err != nil {
				return nil, err
			}
			inputs[i] = v
		}
	}
	out, err := r.fanOut(ctx, s, n, s.maxConcurrency, func(ctx context.Context, i int) (any, error) {
		return r.runGraph(ctx, s.processor, inputs[i])
	}, "MapIteration")
	if err != nil {
		r.e.event(Event{Type: "MapStateFailed", StateName: s.name})
		return nil, err
	}
	r.e.event(Event{Type: "MapStateSucceeded", StateName: s.name})
	return out, nil
}

// runParallel runs every branch on the same input; the result is the
// array of branch outputs in branch order.
func (r *runner) runParallel(ctx context.Context, s *state, input any) (any, error) {
	r.e.event(Event{Type: "ParallelStateStarted", StateName: s.name})
	out, err := r.fanOut(ctx, s, len(s.branches), 0, func(ctx context.Context, i int) (any, error) {
		return r.runGraph(ctx, s.branches[i], input)
	}, "")
	if err != nil {
		r.e.event(Event{Type: "ParallelStateFailed", StateName: s.name})
		return nil, err
	}
	r.e.event(Event{Type: "ParallelStateSucceeded", StateName: s.name})
	return out, nil
}

// fanOut runs n jobs with at most limit in flight (0: all), collects their
// results in order, and on the first failure cancels the rest and returns
// that failure. iterEvents names the per-job events ("MapIteration"), if
// any.
func (r *runner) fanOut(ctx context.Context, s *state, n, limit int, job func(context.Context, int) (any, error), iterEvents string) ([]any, error) {
	if limit <= 0 || limit > n {
		limit = n
	}
	jctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errBranchStopped := errors.New("another iteration failed")
	results := make([]any, n)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, max(limit, 1))
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-jctx.Done():
		}
		if jctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			idx := i
			if iterEvents != "" {
				r.e.event(Event{Type: iterEvents + "Started", StateName: s.name, Index: &idx})
			}
			v, err := job(jctx, i)
			if err != nil {
				if iterEvents != "" && !errors.Is(context.Cause(jctx), errBranchStopped) {
					r.e.event(Event{Type: iterEvents + "Failed", StateName: s.name, Index: &idx})
				} else if iterEvents != "" {
					r.e.event(Event{Type: iterEvents + "Aborted", StateName: s.name, Index: &idx})
				}
				mu.Lock()
				if firstErr == nil && ctx.Err() == nil && !errors.Is(context.Cause(jctx), errBranchStopped) {
					firstErr = err
					cancel(errBranchStopped)
				}
				mu.Unlock()
				return
			}
			if iterEvents != "" {
				r.e.event(Event{Type: iterEvents + "Succeeded", StateName: s.name, Index: &idx})
			}
			results[i] = v
		}(i)
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return results, nil
}
