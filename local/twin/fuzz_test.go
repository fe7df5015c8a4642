package twin

import (
	"encoding/json"
	"testing"
	"time"
)

// Event patterns, input transformers and schedule expressions come from
// users' API calls: none may panic, and what parses must evaluate.

func FuzzEventPattern(f *testing.F) {
	f.Add(`{"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "datasets/"}]}}}`, `{"source": "aws.s3", "detail": {"object": {"key": "datasets/x"}}}`)
	f.Add(`{"a": [{"wildcard": "*x*y*"}, {"exists": false}, {"anything-but": [1, "b"]}]}`, `{"a": ["zxqy", 2]}`)
	f.Fuzz(func(t *testing.T, pattern, event string) {
		p, err := parsePattern(pattern)
		if err != nil {
			return
		}
		var ev any
		if json.Unmarshal([]byte(event), &ev) == nil {
			p.matches(ev)
		}
	})
}

func FuzzInputTransformer(f *testing.F) {
	f.Add(`{"k": "$.detail.key", "n": "$.n"}`, `{"key": <k>, "s": "<k>-<n>", "n": <n>}`, `{"detail": {"key": "a\"b"}, "n": 3}`)
	f.Fuzz(func(t *testing.T, paths, template, event string) {
		it := &inputTransformer{InputTemplate: template}
		if json.Unmarshal([]byte(paths), &it.InputPathsMap) != nil {
			return
		}
		out, err := transform(it, json.RawMessage(event), false)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON without an error: %s", out)
		}
	})
}

func FuzzScheduleExpression(f *testing.F) {
	for _, s := range []string{"cron(0 3 ? * SUN *)", "cron(*/5 1-3 1,15 JAN-MAR ? 2027)", "rate(7 days)", "at(2030-01-02T03:04:05)"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, src string) {
		e, err := parseExpression(src, time.UTC)
		if err != nil {
			return
		}
		if next := e.next(now); !next.IsZero() && !next.After(now) {
			t.Fatalf("%s: next %s is not after %s", src, next, now)
		}
	})
}
