package statemachine

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDefinitionBytes is the service's hard limit on a definition's size.
const maxDefinitionBytes = 1 << 20

// maxNameChars bounds state, state machine and execution names.
const maxNameChars = 80

// graph is a set of states with a start: the whole machine, a Map's
// ItemProcessor or a Parallel branch.
type graph struct {
	startAt string
	states  map[string]*state
	order   []string // definition order, for deterministic validation messages
	timeout int64    // top level TimeoutSeconds; 0 = none
}

// optPath is InputPath/OutputPath: absent means "$", null means {} (input)
// or {} (output).
type optPath struct {
	null bool
	p    *path // nil and !null: "$"
}

// resultPath is ResultPath: absent means "$", null discards the result.
type resultPath struct {
	null bool
	p    *path // nil and !null: "$"
}

type state struct {
	name string
	typ  string
	next string
	end  bool

	inputPath      optPath
	outputPath     optPath
	parameters     *template
	resultSelector *template
	resultPath     resultPath

	// Pass
	result    any
	hasResult bool

	// Task
	resource         string
	timeoutSeconds   int64
	timeoutPath      *path
	heartbeatSeconds int64
	heartbeatPath    *path

	retry []retrier
	catch []catcher

	// Choice
	choices []*choiceRule
	dflt    string

	// Wait
	seconds       *int64
	secondsPath   *path
	timestamp     *time.Time
	timestampPath *path

	// Fail
	errorName, cause     string
	errorExpr, causeExpr *expr

	// Map
	itemsPath      *path
	itemSelector   *template
	maxConcurrency int
	processor      *graph

	// Parallel
	branches []*graph
}

type retrier struct {
	errorEquals     []string
	intervalSeconds int64
	maxAttempts     int
	backoffRate     float64
	maxDelaySeconds int64 // 0: no cap
	jitterFull      bool
}

type catcher struct {
	errorEquals []string
	next        string
	resultPath  resultPath
}

// Fields each state type accepts (ASL spec, "State Types" and the developer
// guide's state pages). Anything else is rejected by name.
var stateFields = map[string][]string{
	"Task":     {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath"},
	"Pass":     {"Next", "End", "InputPath", "OutputPath", "Parameters", "Result", "ResultPath"},
	"Choice":   {"InputPath", "OutputPath", "Choices", "Default"},
	"Wait":     {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "ErrorPath", "Cause", "CausePath"},
	"Map":      {"Next", "End", "InputPath", "OutputPath", "ItemsPath", "ItemSelector", "Parameters", "ItemProcessor", "Iterator", "MaxConcurrency", "ResultSelector", "ResultPath", "Retry", "Catch"},
	"Parallel": {"Next", "End", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch", "Branches"},
}

// Fields that exist in ASL but that this interpreter does not implement;
// they fail as UnsupportedFeature instead of being ignored.
var unsupportedFields = []string{
	"QueryLanguage", "Arguments", "Output", "Assign", "Credentials", "ItemReader", "ItemBatcher",
	"ResultWriter", "ToleratedFailurePercentage", "ToleratedFailureCount", "ToleratedFailurePercentagePath",
	"ToleratedFailureCountPath", "MaxConcurrencyPath", "Label", "Condition", "Items",
}

var substitutionRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// substitute replaces each ${Name} in the definition text by its value, as
// CloudFormation's DefinitionSubstitutions does. Values are JSON-escaped
// because placeholders sit inside JSON strings. A placeholder without a
// value is an error naming it.
func substitute(def []byte, subs map[string]string) ([]byte, error) {
	var missing []string
	out := substitutionRE.ReplaceAllFunc(def, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := subs[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		b, _ := json.Marshal(v)
		return b[1 : len(b)-1]
	})
	if len(missing) > 0 {
		return nil, &DefinitionError{Code: ErrInvalidDefinition, Msg: fmt.Sprintf("no value for definition substitution ${%s}", strings.Join(missing, "}, ${"))}
	}
	return out, nil
}

// parser accumulates the context needed for error messages.
type parser struct {
	names map[string]bool // every state name in the machine: they must be unique
}

func defErr(state, field, format string, args ...any) *DefinitionError {
	return &DefinitionError{Code: ErrInvalidDefinition, State: state, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(state, field, format string, args ...any) *DefinitionError {
	return &DefinitionError{Code: ErrUnsupportedFeature, State: state, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// parseDefinition parses and validates a whole definition.
func parseDefinition(def []byte) (*graph, error) {
	if len(def) > maxDefinitionBytes {
		return nil, defErr("", "", "definition is %d bytes, over the %d-byte limit", len(def), maxDefinitionBytes)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(def, &top); err != nil {
		return nil, defErr("", "", "not a JSON object: %v", err)
	}
	if raw, ok := top["QueryLanguage"]; ok {
		var ql string
		if err := json.Unmarshal(raw, &ql); err != nil || ql != "JSONPath" {
			return nil, unsupported("", "QueryLanguage", "only JSONPath is supported, got %s", raw)
		}
		delete(top, "QueryLanguage")
	}
	p := &parser{names: map[string]bool{}}
	g, err := p.parseGraph(top, "", []string{"StartAt", "States", "Comment", "TimeoutSeconds", "Version"})
	if err != nil {
		return nil, err
	}
	if raw, ok := top["Version"]; ok {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || v != "1.0" {
			return nil, defErr("", "Version", "must be \"1.0\", got %s", raw)
		}
	}
	if raw, ok := top["TimeoutSeconds"]; ok {
		n, err := positiveInt(raw)
		if err != nil {
			return nil, defErr("", "TimeoutSeconds", "%v", err)
		}
		g.timeout = n
	}
	return g, nil
}

// parseGraph parses StartAt/States; owner names the enclosing state for
// nested graphs.
func (p *parser) parseGraph(fields map[string]json.RawMessage, owner string, allowed []string) (*graph, error) {
	for _, k := range sortedRawKeys(fields) {
		if !slices.Contains(allowed, k) {
			if slices.Contains(unsupportedFields, k) {
				return nil, unsupported(owner, k, "not supported")
			}
			return nil, defErr(owner, k, "unknown field")
		}
	}
	g := &graph{states: map[string]*state{}}
	if err := json.Unmarshal(fields["StartAt"], &g.startAt); err != nil || g.startAt == "" {
		return nil, defErr(owner, "StartAt", "required: the name of the first state")
	}
	statesRaw, ok := fields["States"]
	if !ok {
		return nil, defErr(owner, "States", "required")
	}
	order, err := objectKeyOrder(statesRaw)
	if err != nil {
		return nil, defErr(owner, "States", "must be an object: %v", err)
	}
	var raws map[string]json.RawMessage
	if err := json.Unmarshal(statesRaw, &raws); err != nil {
		return nil, defErr(owner, "States", "must be an object: %v", err)
	}
	if len(raws) == 0 {
		return nil, defErr(owner, "States", "must contain at least one state")
	}
	g.order = order
	for _, name := range order {
		if p.names[name] {
			return nil, defErr(name, "", "state name is used more than once in the state machine")
		}
		p.names[name] = true
		if name == "" || utf8.RuneCountInString(name) > maxNameChars {
			return nil, defErr(name, "", "state names must be 1-%d characters", maxNameChars)
		}
		s, err := p.parseState(name, raws[name])
		if err != nil {
			return nil, err
		}
		g.states[name] = s
	}
	if _, ok := g.states[g.startAt]; !ok {
		return nil, defErr(owner, "StartAt", "names %q, which is not a state here", g.startAt)
	}
	if err := g.checkTransitions(); err != nil {
		return nil, err
	}
	return g, nil
}

// checkTransitions verifies that every Next names a state of this graph
// and that every state is reachable from StartAt.
func (g *graph) checkTransitions() error {
	targets := func(s *state) []struct{ field, to string } {
		var out []struct{ field, to string }
		if s.next != "" {
			out = append(out, struct{ field, to string }{"Next", s.next})
		}
		for i, c := range s.choices {
			out = append(out, struct{ field, to string }{fmt.Sprintf("Choices[%d].Next", i), c.next})
		}
		if s.dflt != "" {
			out = append(out, struct{ field, to string }{"Default", s.dflt})
		}
		for i, c := range s.catch {
			out = append(out, struct{ field, to string }{fmt.Sprintf("Catch[%d].Next", i), c.next})
		}
		return out
	}
	for _, name := range g.order {
		for _, t := range targets(g.states[name]) {
			if _, ok := g.states[t.to]; !ok {
				return defErr(name, t.field, "names %q, which is not a state here", t.to)
			}
		}
	}
	seen := map[string]bool{g.startAt: true}
	queue := []string{g.startAt}
	for len(queue) > 0 {
		s := g.states[queue[0]]
		queue = queue[1:]
		for _, t := range targets(s) {
			if !seen[t.to] {
				seen[t.to] = true
				queue = append(queue, t.to)
			}
		}
	}
	for _, name := range g.order {
		if !seen[name] {
			return defErr(name, "", "unreachable: no transition leads here from StartAt %q", g.startAt)
		}
	}
	return nil
}

func (p *parser) parseState(name string, raw json.RawMessage) (*state, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, defErr(name, "", "must be an object: %v", err)
	}
	s := &state{name: name}
	if err := json.Unmarshal(f["Type"], &s.typ); err != nil || s.typ == "" {
		return nil, defErr(name, "Type", "required")
	}
	allowed, ok := stateFields[s.typ]
	if !ok {
		return nil, defErr(name, "Type", "unknown state type %q", s.typ)
	}
	for _, k := range sortedRawKeys(f) {
		if k == "Type" || k == "Comment" || slices.Contains(allowed, k) {
			continue
		}
		if slices.Contains(unsupportedFields, k) {
			return nil, unsupported(name, k, "not supported")
		}
		return nil, defErr(name, k, "unknown field for a %s state", s.typ)
	}
	if err := p.parseCommon(s, f); err != nil {
		return nil, err
	}
	var err error
	switch s.typ {
	case "Task":
		err = p.parseTask(s, f)
	case "Pass":
		if raw, ok := f["Result"]; ok {
			s.hasResult = true
			s.result, err = decodeJSON(raw)
		}
	case "Choice":
		err = p.parseChoice(s, f)
	case "Wait":
		err = p.parseWait(s, f)
	case "Fail":
		err = p.parseFail(s, f)
	case "Map":
		err = p.parseMap(s, f)
	case "Parallel":
		err = p.parseParallel(s, f)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// parseCommon handles Next/End and the input/output processing fields.
func (p *parser) parseCommon(s *state, f map[string]json.RawMessage) error {
	_, hasNext := f["Next"]
	_, hasEnd := f["End"]
	if hasNext {
		if err := json.Unmarshal(f["Next"], &s.next); err != nil || s.next == "" {
			return defErr(s.name, "Next", "must be a state name")
		}
	}
	if hasEnd {
		if err := json.Unmarshal(f["End"], &s.end); err != nil || !s.end {
			return defErr(s.name, "End", "must be true when present")
		}
	}
	switch s.typ {
	case "Task", "Pass", "Wait", "Map", "Parallel":
		if hasNext == hasEnd {
			return defErr(s.name, "Next", "a %s state needs exactly one of Next and End", s.typ)
		}
	}
	var err error
	if s.inputPath, err = parseOptPath(s.name, "InputPath", f); err != nil {
		return err
	}
	if s.outputPath, err = parseOptPath(s.name, "OutputPath", f); err != nil {
		return err
	}
	if s.resultPath, err = parseResultPath(s.name, "ResultPath", f["ResultPath"]); err != nil {
		return err
	}
	if s.parameters, err = parseTemplateField(s.name, "Parameters", f); err != nil {
		return err
	}
	if s.resultSelector, err = parseTemplateField(s.name, "ResultSelector", f); err != nil {
		return err
	}
	if raw, ok := f["Retry"]; ok {
		if s.retry, err = parseRetry(s.name, raw); err != nil {
			return err
		}
	}
	if raw, ok := f["Catch"]; ok {
		if s.catch, err = parseCatch(s.name, raw); err != nil {
			return err
		}
	}
	return nil
}

func parseOptPath(state, field string, f map[string]json.RawMessage) (optPath, error) {
	raw, ok := f[field]
	if !ok {
		return optPath{}, nil
	}
	if string(raw) == "null" {
		return optPath{null: true}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return optPath{}, defErr(state, field, "must be a path string or null")
	}
	pp, err := parsePath(s)
	if err != nil {
		return optPath{}, defErr(state, field, "%v", err)
	}
	if pp.context {
		return optPath{}, defErr(state, field, "must select from the state's data, not the context object ($$)")
	}
	return optPath{p: pp}, nil
}

func parseResultPath(state, field string, raw json.RawMessage) (resultPath, error) {
	if raw == nil {
		return resultPath{}, nil
	}
	if string(raw) == "null" {
		return resultPath{null: true}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return resultPath{}, defErr(state, field, "must be a reference path string or null")
	}
	pp, err := parseReferencePath(s)
	if err != nil {
		return resultPath{}, defErr(state, field, "%v", err)
	}
	if pp.context {
		return resultPath{}, defErr(state, field, "cannot write into the context object ($$)")
	}
	return resultPath{p: pp}, nil
}

func parseTemplateField(state, field string, f map[string]json.RawMessage) (*template, error) {
	raw, ok := f[field]
	if !ok {
		return nil, nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, defErr(state, field, "%v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, defErr(state, field, "must be a JSON object")
	}
	tm, err := compileTemplate(v, field)
	if err != nil {
		return nil, defErr(state, field, "%v", err)
	}
	return tm, nil
}

func parseRefPathField(state, field string, raw json.RawMessage) (*path, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, defErr(state, field, "must be a reference path string")
	}
	pp, err := parseReferencePath(s)
	if err != nil {
		return nil, defErr(state, field, "%v", err)
	}
	return pp, nil
}

func positiveInt(raw json.RawMessage) (int64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || f < 1 || f > 99999999 {
		return 0, fmt.Errorf("must be a positive integer, got %s", raw)
	}
	return int64(f), nil
}

type errorList struct {
	ErrorEquals []string `json:"ErrorEquals"`
}

func checkErrorEquals(state, field string, names []string, last bool) error {
	if len(names) == 0 {
		return defErr(state, field+".ErrorEquals", "must be a non-empty array of error names")
	}
	for _, n := range names {
		if n == "" {
			return defErr(state, field+".ErrorEquals", "error names must not be empty")
		}
		if n == ErrAll && (len(names) != 1 || !last) {
			return defErr(state, field+".ErrorEquals", "States.ALL must appear alone, in the last element")
		}
		if strings.HasPrefix(n, "States.") && !slices.Contains(knownStatesErrors, n) {
			return defErr(state, field+".ErrorEquals", "unknown error name %q", n)
		}
	}
	return nil
}

var knownStatesErrors = []string{
	ErrAll, ErrTaskFailed, ErrTimeout, ErrHeartbeatTimeout, ErrRuntime, ErrNoChoiceMatched,
	ErrResultPathMatchFailure, ErrParameterPathFailure, ErrIntrinsicFailure, ErrDataLimitExceeded,
	ErrBranchFailed, ErrPermissions, "States.ItemReaderFailed", "States.ResultWriterFailed",
	"States.ExceedToleratedFailureThreshold", "States.QueryEvaluationError",
}

func parseRetry(state string, raw json.RawMessage) ([]retrier, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, defErr(state, "Retry", "must be an array of retriers")
	}
	var out []retrier
	for i, it := range items {
		field := fmt.Sprintf("Retry[%d]", i)
		for _, k := range sortedRawKeys(it) {
			if !slices.Contains([]string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}, k) {
				return nil, defErr(state, field+"."+k, "unknown retrier field")
			}
		}
		r := retrier{intervalSeconds: 1, maxAttempts: 3, backoffRate: 2}
		if err := json.Unmarshal(it["ErrorEquals"], &r.errorEquals); err != nil {
			return nil, defErr(state, field+".ErrorEquals", "must be an array of strings")
		}
		if err := checkErrorEquals(state, field, r.errorEquals, i == len(items)-1); err != nil {
			return nil, err
		}
		if v, ok := it["IntervalSeconds"]; ok {
			n, err := positiveInt(v)
			if err != nil {
				return nil, defErr(state, field+".IntervalSeconds", "%v", err)
			}
			r.intervalSeconds = n
		}
		if v, ok := it["MaxAttempts"]; ok {
			var f float64
			if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || f < 0 || f > 99999999 {
				return nil, defErr(state, field+".MaxAttempts", "must be a non-negative integer, got %s", v)
			}
			r.maxAttempts = int(f)
		}
		if v, ok := it["BackoffRate"]; ok {
			if err := json.Unmarshal(v, &r.backoffRate); err != nil || r.backoffRate < 1 {
				return nil, defErr(state, field+".BackoffRate", "must be a number >= 1.0, got %s", v)
			}
		}
		if v, ok := it["MaxDelaySeconds"]; ok {
			n, err := positiveInt(v)
			if err != nil {
				return nil, defErr(state, field+".MaxDelaySeconds", "%v", err)
			}
			r.maxDelaySeconds = n
		}
		if v, ok := it["JitterStrategy"]; ok {
			var js string
			if err := json.Unmarshal(v, &js); err != nil || (js != "FULL" && js != "NONE") {
				return nil, defErr(state, field+".JitterStrategy", "must be \"FULL\" or \"NONE\", got %s", v)
			}
			r.jitterFull = js == "FULL"
		}
		out = append(out, r)
	}
	return out, nil
}

func parseCatch(state string, raw json.RawMessage) ([]catcher, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, defErr(state, "Catch", "must be an array of catchers")
	}
	var out []catcher
	for i, it := range items {
		field := fmt.Sprintf("Catch[%d]", i)
		for _, k := range sortedRawKeys(it) {
			if !slices.Contains([]string{"ErrorEquals", "Next", "ResultPath", "Comment"}, k) {
				if k == "Output" || k == "Assign" {
					return nil, unsupported(state, field+"."+k, "not supported")
				}
				return nil, defErr(state, field+"."+k, "unknown catcher field")
			}
		}
		var c catcher
		if err := json.Unmarshal(it["ErrorEquals"], &c.errorEquals); err != nil {
			return nil, defErr(state, field+".ErrorEquals", "must be an array of strings")
		}
		if err := checkErrorEquals(state, field, c.errorEquals, i == len(items)-1); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(it["Next"], &c.next); err != nil || c.next == "" {
			return nil, defErr(state, field+".Next", "required: a state name")
		}
		var err error
		if c.resultPath, err = parseResultPath(state, field+".ResultPath", it["ResultPath"]); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Task resources this interpreter runs (see task.go). Others fail at Parse
// as UnsupportedFeature.
const (
	resLambdaInvoke    = "arn:aws:states:::lambda:invoke"
	resBatchSubmit     = "arn:aws:states:::batch:submitJob"
	resBatchSubmitSync = "arn:aws:states:::batch:submitJob.sync"
	resStartExec       = "arn:aws:states:::states:startExecution"
	resStartExecSync   = "arn:aws:states:::states:startExecution.sync"
	resStartExecSync2  = "arn:aws:states:::states:startExecution.sync:2"
	resSNSPublish      = "arn:aws:states:::sns:publish"
)

var lambdaARN = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$`)

// requiredParameters lists the Parameters each integration needs.
var requiredParameters = map[string][]string{
	resLambdaInvoke:    {"FunctionName"},
	resBatchSubmit:     {"JobName", "JobQueue", "JobDefinition"},
	resBatchSubmitSync: {"JobName", "JobQueue", "JobDefinition"},
	resStartExec:       {"StateMachineArn"},
	resStartExecSync:   {"StateMachineArn"},
	resStartExecSync2:  {"StateMachineArn"},
	resSNSPublish:      {"Message"},
}

func (p *parser) parseTask(s *state, f map[string]json.RawMessage) error {
	if err := json.Unmarshal(f["Resource"], &s.resource); err != nil || s.resource == "" {
		return defErr(s.name, "Resource", "required: an ARN")
	}
	if strings.HasSuffix(s.resource, ".waitForTaskToken") {
		return unsupported(s.name, "Resource", "callback tasks (%s) are not supported", s.resource)
	}
	if req, ok := requiredParameters[s.resource]; ok {
		for _, k := range req {
			if s.parameters == nil || !s.parameters.hasField(k) {
				return defErr(s.name, "Parameters", "%s needs the parameter %s", s.resource, k)
			}
		}
	} else if !lambdaARN.MatchString(s.resource) {
		return unsupported(s.name, "Resource", "resource %q is not a supported integration (lambda:invoke, a Lambda function ARN, batch:submitJob[.sync], states:startExecution[.sync[:2]], sns:publish)", s.resource)
	}
	if raw, ok := f["TimeoutSeconds"]; ok {
		if _, ok := f["TimeoutSecondsPath"]; ok {
			return defErr(s.name, "TimeoutSeconds", "TimeoutSeconds and TimeoutSecondsPath are mutually exclusive")
		}
		n, err := positiveInt(raw)
		if err != nil {
			return defErr(s.name, "TimeoutSeconds", "%v", err)
		}
		s.timeoutSeconds = n
	}
	if raw, ok := f["TimeoutSecondsPath"]; ok {
		pp, err := parseRefPathField(s.name, "TimeoutSecondsPath", raw)
		if err != nil {
			return err
		}
		s.timeoutPath = pp
	}
	if raw, ok := f["HeartbeatSeconds"]; ok {
		if _, ok := f["HeartbeatSecondsPath"]; ok {
			return defErr(s.name, "HeartbeatSeconds", "HeartbeatSeconds and HeartbeatSecondsPath are mutually exclusive")
		}
		n, err := positiveInt(raw)
		if err != nil {
			return defErr(s.name, "HeartbeatSeconds", "%v", err)
		}
		if s.timeoutSeconds > 0 && n >= s.timeoutSeconds {
			return defErr(s.name, "HeartbeatSeconds", "must be smaller than TimeoutSeconds (%d)", s.timeoutSeconds)
		}
		s.heartbeatSeconds = n
	}
	if raw, ok := f["HeartbeatSecondsPath"]; ok {
		pp, err := parseRefPathField(s.name, "HeartbeatSecondsPath", raw)
		if err != nil {
			return err
		}
		s.heartbeatPath = pp
	}
	return nil
}

// hasField reports whether an object template sets key (literally or with
// ".$").
func (tm *template) hasField(key string) bool {
	for _, f := range tm.object {
		if f.key == key {
			return true
		}
	}
	return false
}

func (p *parser) parseWait(s *state, f map[string]json.RawMessage) error {
	n := 0
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if _, ok := f[k]; ok {
			n++
		}
	}
	if n != 1 {
		return defErr(s.name, "Seconds", "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp and TimestampPath")
	}
	var err error
	switch {
	case f["Seconds"] != nil:
		var v float64
		if err := json.Unmarshal(f["Seconds"], &v); err != nil || v != math.Trunc(v) || v < 0 || v > 99999999 {
			return defErr(s.name, "Seconds", "must be a non-negative integer, got %s", f["Seconds"])
		}
		secs := int64(v)
		s.seconds = &secs
	case f["SecondsPath"] != nil:
		s.secondsPath, err = parseRefPathField(s.name, "SecondsPath", f["SecondsPath"])
	case f["Timestamp"] != nil:
		var ts string
		if err := json.Unmarshal(f["Timestamp"], &ts); err != nil {
			return defErr(s.name, "Timestamp", "must be a string")
		}
		t, ok := parseTimestamp(ts)
		if !ok {
			return defErr(s.name, "Timestamp", "%q is not an RFC 3339 timestamp with uppercase T and Z", ts)
		}
		s.timestamp = &t
	case f["TimestampPath"] != nil:
		s.timestampPath, err = parseRefPathField(s.name, "TimestampPath", f["TimestampPath"])
	}
	return err
}

// parseTimestamp accepts the RFC 3339 profile the service does: uppercase
// T between date and time, uppercase Z or a numeric offset.
func parseTimestamp(s string) (time.Time, bool) {
	if strings.ContainsAny(s, "tz") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func (p *parser) parseFail(s *state, f map[string]json.RawMessage) error {
	for _, pair := range [][2]string{{"Error", "ErrorPath"}, {"Cause", "CausePath"}} {
		plain, dyn := f[pair[0]], f[pair[1]]
		if plain != nil && dyn != nil {
			return defErr(s.name, pair[0], "%s and %s are mutually exclusive", pair[0], pair[1])
		}
		if plain != nil {
			var v string
			if err := json.Unmarshal(plain, &v); err != nil {
				return defErr(s.name, pair[0], "must be a string")
			}
			if pair[0] == "Error" {
				s.errorName = v
			} else {
				s.cause = v
			}
		}
		if dyn != nil {
			var v string
			if err := json.Unmarshal(dyn, &v); err != nil {
				return defErr(s.name, pair[1], "must be a path or an intrinsic function")
			}
			var e expr
			if isIntrinsic(v) {
				call, err := parseIntrinsic(v)
				if err != nil {
					return defErr(s.name, pair[1], "%v", err)
				}
				e.call = call
			} else {
				pp, err := parseReferencePath(v)
				if err != nil {
					return defErr(s.name, pair[1], "%v", err)
				}
				e.path = pp
			}
			if pair[0] == "Error" {
				s.errorExpr = &e
			} else {
				s.causeExpr = &e
			}
		}
	}
	return nil
}

func (p *parser) parseMap(s *state, f map[string]json.RawMessage) error {
	if raw, ok := f["ItemsPath"]; ok {
		pp, err := parseRefPathField(s.name, "ItemsPath", raw)
		if err != nil {
			return err
		}
		s.itemsPath = pp
	}
	if _, ok := f["ItemSelector"]; ok {
		if s.parameters != nil {
			return defErr(s.name, "ItemSelector", "ItemSelector replaces Parameters in a Map state; use one")
		}
		var err error
		if s.itemSelector, err = parseTemplateField(s.name, "ItemSelector", f); err != nil {
			return err
		}
	} else {
		// Parameters is the older name of ItemSelector in a Map state.
		s.itemSelector, s.parameters = s.parameters, nil
	}
	if raw, ok := f["MaxConcurrency"]; ok {
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil || v != math.Trunc(v) || v < 0 {
			return defErr(s.name, "MaxConcurrency", "must be a non-negative integer, got %s", raw)
		}
		s.maxConcurrency = int(v)
	}
	procField := "ItemProcessor"
	raw, hasProc := f["ItemProcessor"]
	if it, ok := f["Iterator"]; ok {
		if hasProc {
			return defErr(s.name, "Iterator", "ItemProcessor and Iterator are mutually exclusive")
		}
		raw, procField, hasProc = it, "Iterator", true
	}
	if !hasProc {
		return defErr(s.name, "ItemProcessor", "required")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return defErr(s.name, procField, "must be an object")
	}
	if cfg, ok := fields["ProcessorConfig"]; ok {
		var pc map[string]json.RawMessage
		if err := json.Unmarshal(cfg, &pc); err != nil {
			return defErr(s.name, procField+".ProcessorConfig", "must be an object")
		}
		for _, k := range sortedRawKeys(pc) {
			switch k {
			case "Mode":
				var mode string
				_ = json.Unmarshal(pc[k], &mode)
				if mode == "DISTRIBUTED" {
					return unsupported(s.name, procField+".ProcessorConfig.Mode", "distributed Map is not supported")
				}
				if mode != "INLINE" {
					return defErr(s.name, procField+".ProcessorConfig.Mode", "must be INLINE or DISTRIBUTED, got %s", pc[k])
				}
			case "ExecutionType":
				return unsupported(s.name, procField+".ProcessorConfig.ExecutionType", "only for distributed Map")
			default:
				return defErr(s.name, procField+".ProcessorConfig."+k, "unknown field")
			}
		}
		delete(fields, "ProcessorConfig")
	}
	g, err := p.parseGraph(fields, s.name, []string{"StartAt", "States", "Comment"})
	if err != nil {
		return err
	}
	s.processor = g
	return nil
}

func (p *parser) parseParallel(s *state, f map[string]json.RawMessage) error {
	var branches []map[string]json.RawMessage
	if err := json.Unmarshal(f["Branches"], &branches); err != nil || len(branches) == 0 {
		return defErr(s.name, "Branches", "required: a non-empty array of {StartAt, States}")
	}
	for _, b := range branches {
		g, err := p.parseGraph(b, s.name, []string{"StartAt", "States", "Comment"})
		if err != nil {
			return err
		}
		s.branches = append(s.branches, g)
	}
	return nil
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// objectKeyOrder lists an object's keys in document order.
func objectKeyOrder(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
