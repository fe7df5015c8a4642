package twin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/lorafn/lorafn/local/s3"
)

// rule is an EventBridge rule on the default bus with its targets.
type rule struct {
	Name         string    `json:"Name"`
	ARN          string    `json:"Arn"`
	EventPattern string    `json:"EventPattern"`
	State        string    `json:"State"`
	Description  string    `json:"Description,omitempty"`
	Targets      []*target `json:"Targets"`
}

type target struct {
	ID               string            `json:"Id"`
	ARN              string            `json:"Arn"`
	RoleARN          string            `json:"RoleArn,omitempty"`
	Input            string            `json:"Input,omitempty"`
	InputPath        string            `json:"InputPath,omitempty"`
	InputTransformer *inputTransformer `json:"InputTransformer,omitempty"`
}

type inputTransformer struct {
	InputPathsMap map[string]string `json:"InputPathsMap,omitempty"`
	InputTemplate string            `json:"InputTemplate"`
}

func (t *Twin) serveEvents(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSEvents.")
	var out any
	var err error
	switch op {
	case "PutRule":
		out, err = t.putRule(r)
	case "PutTargets":
		out, err = t.putTargets(r)
	case "DescribeRule":
		out, err = t.describeRule(r)
	case "ListRules":
		out, err = t.listRules()
	case "ListTargetsByRule":
		out, err = t.listTargets(r)
	default:
		err = badRequest("UnknownOperationException", "EventBridge operation %q is not supported by lorafn local", op)
	}
	if err != nil {
		writeError(w, awsJSON, err)
		return
	}
	writeJSON(w, awsJSON, http.StatusOK, out)
}

func (t *Twin) putRule(r *http.Request) (any, error) {
	var in struct {
		Name               string `json:"Name"`
		EventPattern       string `json:"EventPattern"`
		ScheduleExpression string `json:"ScheduleExpression"`
		State              string `json:"State"`
		Description        string `json:"Description"`
		EventBusName       string `json:"EventBusName"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Name == "":
		return nil, badRequest("ValidationException", "Name is required")
	case in.ScheduleExpression != "":
		return nil, badRequest("ValidationException", "rule %s: scheduled rules are not supported by lorafn local; use EventBridge Scheduler", in.Name)
	case in.EventBusName != "" && in.EventBusName != "default":
		return nil, badRequest("ResourceNotFoundException", "event bus %s does not exist (lorafn local has the default bus only)", in.EventBusName)
	}
	if _, err := parsePattern(in.EventPattern); err != nil {
		return nil, badRequest("InvalidEventPatternException", "rule %s: %v", in.Name, err)
	}
	if in.State == "" {
		in.State = "ENABLED"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ru, ok := t.rules[in.Name]
	if !ok {
		ru = &rule{Name: in.Name, ARN: t.arn("events", "rule/"+in.Name)}
		t.rules[in.Name] = ru
	}
	ru.EventPattern, ru.State, ru.Description = in.EventPattern, in.State, in.Description
	if err := t.save(); err != nil {
		return nil, err
	}
	return map[string]string{"RuleArn": ru.ARN}, nil
}

func (t *Twin) putTargets(r *http.Request) (any, error) {
	var in struct {
		Rule    string    `json:"Rule"`
		Targets []*target `json:"Targets"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	for _, tg := range in.Targets {
		if tg.InputTransformer != nil {
			if _, err := transform(tg.InputTransformer, json.RawMessage(`{}`), true); err != nil {
				return nil, badRequest("ValidationException", "target %s: %v", tg.ID, err)
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ru, ok := t.rules[in.Rule]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "Rule %s does not exist on EventBus default.", in.Rule)
	}
	for _, tg := range in.Targets {
		replaced := false
		for i, old := range ru.Targets {
			if old.ID == tg.ID {
				ru.Targets[i], replaced = tg, true
			}
		}
		if !replaced {
			ru.Targets = append(ru.Targets, tg)
		}
	}
	if err := t.save(); err != nil {
		return nil, err
	}
	return map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}}, nil
}

func (t *Twin) ruleNamed(r *http.Request) (*rule, error) {
	var in struct {
		Name string `json:"Name"`
		Rule string `json:"Rule"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ru, ok := t.rules[in.Name+in.Rule]
	if !ok {
		return nil, badRequest("ResourceNotFoundException", "Rule %s does not exist.", in.Name+in.Rule)
	}
	return ru, nil
}

func (t *Twin) describeRule(r *http.Request) (any, error) {
	ru, err := t.ruleNamed(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Name": ru.Name, "Arn": ru.ARN, "EventPattern": ru.EventPattern, "State": ru.State, "EventBusName": "default"}, nil
}

func (t *Twin) listRules() (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := []map[string]any{}
	for _, ru := range t.rules {
		list = append(list, map[string]any{"Name": ru.Name, "Arn": ru.ARN, "EventPattern": ru.EventPattern, "State": ru.State})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["Name"].(string) < list[j]["Name"].(string) })
	return map[string]any{"Rules": list}, nil
}

func (t *Twin) listTargets(r *http.Request) (any, error) {
	ru, err := t.ruleNamed(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Targets": ru.Targets}, nil
}

// objectCreated turns a committed S3 write into EventBridge's "Object
// Created" event when the bucket has EventBridge notifications on, and
// delivers it to the matching rules' targets.
func (t *Twin) objectCreated(o s3.ObjectCreated) {
	if !bytes.Contains(t.s3.NotificationConfig(o.Bucket), []byte("EventBridgeConfiguration")) {
		return
	}
	event := map[string]any{
		"version": "0", "id": fmt.Sprintf("%x", time.Now().UnixNano()), "detail-type": "Object Created", "source": "aws.s3",
		"account": t.opts.Account, "time": o.Time.UTC().Format(time.RFC3339), "region": t.opts.Region,
		"resources": []string{"arn:aws:s3:::" + o.Bucket},
		"detail": map[string]any{
			"version": "0", "bucket": map[string]any{"name": o.Bucket},
			"object":     map[string]any{"key": o.Key, "size": o.Size, "etag": o.ETag, "sequencer": fmt.Sprintf("%016X", o.Time.UnixNano())},
			"request-id": "lorafn-local", "requester": t.opts.Account, "reason": o.Reason,
		},
	}
	data, _ := json.Marshal(event)
	t.PutEvent(data)
}

// PutEvent delivers one event on the default bus to every enabled rule
// that matches it. Deliveries run in the background.
func (t *Twin) PutEvent(event json.RawMessage) {
	var ev any
	if err := json.Unmarshal(event, &ev); err != nil {
		return
	}
	t.mu.Lock()
	var deliveries []*target
	for _, ru := range t.rules {
		p, err := parsePattern(ru.EventPattern)
		if err != nil || ru.State != "ENABLED" || !p.matches(ev) {
			continue
		}
		deliveries = append(deliveries, ru.Targets...)
	}
	t.mu.Unlock()
	for _, tg := range deliveries {
		input := []byte(event)
		switch {
		case tg.Input != "":
			input = []byte(tg.Input)
		case tg.InputPath != "":
			v, _ := lookup(ev, tg.InputPath)
			input, _ = json.Marshal(v)
		case tg.InputTransformer != nil:
			var err error
			if input, err = transform(tg.InputTransformer, event, false); err != nil {
				t.logf("rule target %s: %v", tg.ID, err)
				continue
			}
		}
		t.deliver(tg.ARN, input)
	}
}

// deliver starts a state machine execution or invokes a function.
func (t *Twin) deliver(arn string, input []byte) {
	switch {
	case strings.Contains(arn, ":states:"):
		if _, err := t.StartExecution(arn, "", input); err != nil {
			t.logf("starting %s: %v", arn, err)
		}
	case strings.Contains(arn, ":lambda:"):
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			if _, _, err := t.invoke(t.ctx, arn, input); err != nil {
				t.logf("invoking %s: %v", arn, err)
			}
		}()
	default:
		t.logf("target %s: only Step Functions and Lambda targets are delivered by lorafn local", arn)
	}
}

// pattern is a parsed event pattern: a field either holds a list of
// allowed values or matchers, or a nested pattern.
type pattern map[string]any

func parsePattern(src string) (pattern, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("EventPattern is required")
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(src), &p); err != nil {
		return nil, fmt.Errorf("EventPattern is not a JSON object: %v", err)
	}
	return pattern(p), checkPattern(p, "")
}

func checkPattern(p map[string]any, where string) error {
	for k, v := range p {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v, where+k+"."); err != nil {
				return err
			}
		case []any:
			for _, m := range v {
				obj, ok := m.(map[string]any)
				if !ok {
					continue
				}
				for op := range obj {
					switch op {
					case "prefix", "suffix", "wildcard", "exists", "anything-but", "equals-ignore-case":
					default:
						return fmt.Errorf("field %s%s: matcher %q is not supported by lorafn local", where, k, op)
					}
				}
			}
		default:
			return fmt.Errorf("field %s%s: want an array or an object", where, k)
		}
	}
	return nil
}

func (p pattern) matches(ev any) bool {
	obj, _ := ev.(map[string]any)
	for k, want := range p {
		got, present := obj[k]
		switch want := want.(type) {
		case map[string]any:
			if !present || !pattern(want).matches(got) {
				return false
			}
		case []any:
			if !anyMatch(want, got, present) {
				return false
			}
		}
	}
	return true
}

func anyMatch(allowed []any, got any, present bool) bool {
	values := []any{got}
	if list, ok := got.([]any); ok {
		values = list
	}
	for _, a := range allowed {
		if m, ok := a.(map[string]any); ok {
			if e, ok := m["exists"].(bool); ok && e == present {
				return true
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			if matchOne(a, v) {
				return true
			}
		}
	}
	return false
}

func matchOne(a, v any) bool {
	m, ok := a.(map[string]any)
	if !ok {
		return jsonEqual(a, v)
	}
	s, isString := v.(string)
	for op, arg := range m {
		as, _ := arg.(string)
		switch op {
		case "prefix":
			return isString && strings.HasPrefix(s, as)
		case "suffix":
			return isString && strings.HasSuffix(s, as)
		case "equals-ignore-case":
			return isString && strings.EqualFold(s, as)
		case "wildcard":
			return isString && wildcard(as, s)
		case "anything-but":
			if list, ok := arg.([]any); ok {
				for _, x := range list {
					if jsonEqual(x, v) {
						return false
					}
				}
				return true
			}
			return !jsonEqual(arg, v)
		}
	}
	return false
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// lookup reads a dotted JSONPath ($.detail.object.key) from a decoded
// event.
func lookup(v any, p string) (any, bool) {
	if p == "$" {
		return v, true
	}
	rest, ok := strings.CutPrefix(p, "$.")
	if !ok {
		return nil, false
	}
	for _, k := range strings.Split(rest, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// transform applies an input transformer: each <name> in the template is
// replaced by the value its path selects, as JSON where it stands alone and
// as the raw text inside a quoted string. check only validates.
func transform(it *inputTransformer, event json.RawMessage, check bool) ([]byte, error) {
	var ev any
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	values := map[string]any{}
	for name, p := range it.InputPathsMap {
		if !strings.HasPrefix(p, "$") {
			return nil, fmt.Errorf("InputPathsMap %s: path %q must start with $", name, p)
		}
		v, ok := lookup(ev, p)
		if ok {
			values[name] = v
		}
	}
	tpl := it.InputTemplate
	var out strings.Builder
	inString := false
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		switch {
		case c == '\\' && inString && i+1 < len(tpl):
			out.WriteByte(c)
			out.WriteByte(tpl[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		case c == '<':
			end := strings.IndexByte(tpl[i:], '>')
			if end > 0 {
				name := tpl[i+1 : i+end]
				if _, declared := it.InputPathsMap[name]; declared {
					v, found := values[name]
					switch {
					case check:
					case !found && inString:
					case !found:
						out.WriteString("null")
					case inString:
						if s, ok := v.(string); ok {
							b, _ := json.Marshal(s)
							out.Write(b[1 : len(b)-1])
						} else {
							b, _ := json.Marshal(v)
							out.Write(b)
						}
					default:
						b, _ := json.Marshal(v)
						out.Write(b)
					}
					i += end
					continue
				}
			}
		}
		out.WriteByte(c)
	}
	if check {
		return nil, nil
	}
	res := []byte(out.String())
	if !json.Valid(res) {
		return nil, fmt.Errorf("InputTemplate gave invalid JSON: %s", res)
	}
	return res, nil
}

// wildcard matches s against a pattern in which * stands for any run of
// characters, "/" included, as EventBridge's wildcard matcher does.
func wildcard(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
