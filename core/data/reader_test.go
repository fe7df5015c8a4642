package data

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/tokenizer"
)

func TestJSONLFormats(t *testing.T) {
	for _, c := range []struct {
		line string
		want Record
	}{
		{`{"text": "hello"}`, Record{Format: FormatText, Text: "hello"}},
		{`{"prompt": "Q?", "completion": " A", "id": 7}`, Record{Format: FormatPromptCompletion, Prompt: "Q?", Completion: " A"}},
		{`{"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}`,
			Record{Format: FormatChat, Messages: []tokenizer.Message{{Role: "system"}, {Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}}},
		{`{"instruction": "Add.", "input": "1 2", "output": "3"}`, Record{Format: FormatAlpaca, Instruction: "Add.", Input: "1 2", Output: "3"}},
		{`{"instruction": "Say hi.", "output": "hi"}`, Record{Format: FormatAlpaca, Instruction: "Say hi.", Output: "hi"}},
		{`{"text": "great film", "label": "positive"}`, Record{Format: FormatTextLabel, Text: "great film", Label: "positive"}},
		{`{"text": "2+2", "label": 4}`, Record{Format: FormatTextLabel, Text: "2+2", Label: "4"}},
		{`{"text": "sky is green", "label": false}`, Record{Format: FormatTextLabel, Text: "sky is green", Label: "false"}},
		{`{"input_ids": [1, 2, 3]}`, Record{Format: FormatTokens, InputIDs: []int{1, 2, 3}}},
		{`{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}`, Record{Format: FormatTokens, InputIDs: []int{1, 2, 3}, Labels: []int{-100, 2, 3}}},
	} {
		recs, errs := readAllRecords(t, NewJSONLReader(strings.NewReader(c.line), "d.jsonl"))
		if len(errs) > 0 || len(recs) != 1 {
			t.Errorf("%s: records %v, errors %v", c.line, recs, errs)
			continue
		}
		c.want.File, c.want.Line = "d.jsonl", 1
		if !reflect.DeepEqual(recs[0], c.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", c.line, recs[0], c.want)
		}
	}
}

func TestJSONLErrors(t *testing.T) {
	for _, c := range []struct {
		line  string
		field string
		kind  Kind
		msg   string
	}{
		{`{"text": "a"`, "", KindBadJSON, "bad JSON"},
		{`[1, 2]`, "", KindBadJSON, "want a JSON object, got a list"},
		{`null`, "", KindBadJSON, "got null"},
		{`"text"`, "", KindBadJSON, "got a string"},
		{`{"txt": "a"}`, "", KindNoFormat, "no known fields"},
		{`{"text": 5}`, "text", KindType, "want a string, got a number"},
		{`{"text": null}`, "text", KindType, "got null"},
		{`{"text": "  \n"}`, "text", KindEmpty, "empty"},
		{`{"prompt": "q"}`, "completion", KindMissing, "missing"},
		{`{"completion": "a"}`, "prompt", KindMissing, "missing"},
		{`{"prompt": "q", "completion": ""}`, "completion", KindEmpty, "empty"},
		{`{"instruction": "do", "input": 3, "output": "x"}`, "input", KindType, "want a string"},
		{`{"instruction": "do"}`, "output", KindMissing, "missing"},
		{`{"label": "x"}`, "text", KindMissing, "missing"},
		{`{"text": "t", "label": [1]}`, "label", KindType, "want a string, number or boolean"},
		{`{"messages": "hi"}`, "messages", KindType, "want a list"},
		{`{"messages": []}`, "messages", KindEmpty, "empty"},
		{`{"messages": [{"role": "user", "content": "hi"}]}`, "messages", KindNoTraining, "no assistant turn"},
		{`{"messages": [{"role": "user"}]}`, "messages[0].content", KindMissing, "missing"},
		{`{"messages": [{"role": "bot", "content": "x"}]}`, "messages[0].role", KindType, `"bot"`},
		{`{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 1}]}`, "messages[1].content", KindType, "got a number"},
		{`{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": " "}]}`, "messages[1].content", KindEmpty, "empty assistant turn"},
		{`{"messages": [3]}`, "messages[0]", KindType, "want an object"},
		{`{"input_ids": [1, 2.5]}`, "input_ids[1]", KindType, "want an integer, got 2.5"},
		{`{"input_ids": [1, null]}`, "input_ids[1]", KindType, "got null"},
		{`{"input_ids": []}`, "input_ids", KindEmpty, "empty"},
		{`{"input_ids": [1, 2], "labels": [1]}`, "labels", KindType, "1 labels for 2 input_ids"},
		{`{"input_ids": "1 2"}`, "input_ids", KindType, "want a list of integers"},
	} {
		// The bad line is line 3, after a good line and a blank one.
		in := "{\"text\": \"ok\"}\n\n" + c.line + "\n{\"text\": \"after\"}\n"
		recs, errs := readAllRecords(t, NewJSONLReader(strings.NewReader(in), "d.jsonl"))
		if len(recs) != 2 || len(errs) != 1 {
			t.Errorf("%s: %d records, errors %v; want 2 records and one error", c.line, len(recs), errs)
			continue
		}
		e := errs[0]
		if e.File != "d.jsonl" || e.Line != 3 || e.Field != c.field || e.Kind != c.kind || !strings.Contains(e.Error(), c.msg) {
			t.Errorf("%s: got %q (field %q, kind %s), want line 3, field %q, kind %s, containing %q", c.line, e, e.Field, e.Kind, c.field, c.kind, c.msg)
		}
		if !strings.HasPrefix(e.Error(), "d.jsonl:3: ") {
			t.Errorf("%s: error %q does not start with file:line", c.line, e)
		}
		if recs[1].Line != 4 {
			t.Errorf("record after the bad one has line %d, want 4", recs[1].Line)
		}
	}
}

func TestJSONLLineEndings(t *testing.T) {
	in := "\ufeff{\"text\": \"a\"}\r\n{\"text\": \"b\"}" // BOM, CRLF, no final newline
	recs, errs := readAllRecords(t, NewJSONLReader(strings.NewReader(in), "d.jsonl"))
	if len(errs) != 0 || len(recs) != 2 || recs[0].Text != "a" || recs[1].Text != "b" || recs[1].Line != 2 {
		t.Fatalf("records %+v, errors %v", recs, errs)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestJSONLReadErrorIsFatal(t *testing.T) {
	_, err := NewJSONLReader(failingReader{}, "d.jsonl").Next()
	var le *LineError
	if err == nil || errors.As(err, &le) || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err = %v, want the read error, not a line error", err)
	}
}

func TestCSV(t *testing.T) {
	in := "id,Prompt,completion\n" +
		"1,\"Q: a, b?\",\" yes\"\n" +
		"\n" +
		"2,\"multi\nline\",\" no\"\n" +
		"3,only two\n" +
		"4,\"\",\" x\"\n" +
		"5,\"bad \"quote\",x\n" +
		"6,fine,\" done\"\n"
	r, err := NewCSVReader(strings.NewReader(in), "d.csv")
	if err != nil {
		t.Fatal(err)
	}
	recs, errs := readAllRecords(t, r)
	var got []string
	for _, rec := range recs {
		got = append(got, rec.Prompt+"|"+rec.Completion+"|"+string(rec.Format))
	}
	want := []string{"Q: a, b?| yes|prompt_completion", "multi\nline| no|prompt_completion", "fine| done|prompt_completion"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
	if len(recs) == 3 && (recs[0].Line != 2 || recs[1].Line != 4 || recs[2].Line != 9) {
		t.Errorf("lines %d %d %d, want 2 4 9", recs[0].Line, recs[1].Line, recs[2].Line)
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, fmt.Sprintf("%d %s %s", e.Line, e.Field, e.Kind))
	}
	wantErrs := []string{"6  bad_json", "7 prompt empty", "8  bad_json"}
	if !reflect.DeepEqual(lines, wantErrs) {
		t.Errorf("errors %q, want %q", lines, wantErrs)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":              "empty CSV",
		"a,b\n1,2\n":    "names none of",
		"text,text\n":   "appears twice",
		"\"text\n1,2\n": "CSV header",
	} {
		if _, err := NewCSVReader(strings.NewReader(in), "d.csv"); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "d.csv") {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

// checkReader drains r and checks the Reader contract: only records,
// *LineErrors with increasing lines, then io.EOF.
func checkReader(t *testing.T, r Reader) {
	last := 0
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("reader does not end")
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var le *LineError
		line := rec.Line
		if err != nil {
			if !errors.As(err, &le) {
				t.Fatalf("not a line error: %v", err)
			}
			line = le.Line
			if le.Kind == "" {
				t.Fatalf("line error without a kind: %v", le)
			}
		} else if rec.Format == "" {
			t.Fatalf("record without a format: %+v", rec)
		}
		if line < last || line < 1 {
			t.Fatalf("line %d after line %d", line, last)
		}
		last = line
	}
}

func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		`{"text": "a"}`, `{"prompt": "a", "completion": "b"}`, `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}`,
		`{"instruction": "i", "input": "", "output": "o"}`, `{"text": "t", "label": 1}`, `{"input_ids": [1], "labels": [-100]}`,
		"{\"text\": \"a\"}\n\n{bad\n", "\ufeff[]\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkReader(t, NewJSONLReader(strings.NewReader(s), "f.jsonl"))
	})
}

func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"text\nhello\n", "prompt,completion\n\"a,b\",c\n", "instruction,input,output\ni,,o\n", "text,label\nt,1\n\"bad\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := NewCSVReader(strings.NewReader(s), "f.csv")
		if err != nil {
			return
		}
		checkReader(t, r)
	})
}

func TestJSONLLineTooLong(t *testing.T) {
	in := `{"text": "a"}` + "\n" + `{"text": "` + strings.Repeat("x", 1<<17) + `"}` + "\n" + `{"text": "b"}` + "\n"
	r := NewJSONLReader(strings.NewReader(in), "big.jsonl")
	r.maxLine = 1 << 16
	recs, errs := readAllRecords(t, r)
	if len(recs) != 2 || recs[1].Text != "b" || recs[1].Line != 3 || len(errs) != 1 || errs[0].Line != 2 || errs[0].Kind != KindTooLong || !strings.Contains(errs[0].Error(), "big.jsonl:2: line longer than 65536 bytes") {
		t.Fatalf("records %d, errors %v", len(recs), errs)
	}
}
