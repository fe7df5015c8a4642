package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/data"
)

func writeData(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrep(t *testing.T) {
	tok := trainedTokenizer(t)
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, `{"prompt": "Question: what is 2 plus 2?", "completion": " Answer: 4"}`,
			`{"text": "The quick brown fox jumps over the lazy dog."}`)
	}
	lines = append(lines, `{"prompt": 7, "completion": "x"}`)
	dataPath := writeData(t, "d.jsonl", lines...)
	out := filepath.Join(t.TempDir(), "prep")
	stdout, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", out,
		"--max-len", "32", "--val-fraction", "0.25", "--pack")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, errOut)
	}
	if !strings.Contains(stdout, "81 read, 80 accepted, 1 rejected") || !strings.Contains(stdout, "d.jsonl:81: field \"prompt\": want a string, got a number") {
		t.Errorf("summary:\n%s", stdout)
	}
	var stats data.Stats
	raw, err := os.ReadFile(filepath.Join(out, "stats.json"))
	if err != nil || json.Unmarshal(raw, &stats) != nil {
		t.Fatalf("stats.json: %v", err)
	}
	if !stats.Options.Pack || stats.Options.MaxLen != 32 || stats.Rejected != 1 || stats.Rejections[0].Line != 81 {
		t.Errorf("stats %+v", stats)
	}
	train, err := data.OpenShards(filepath.Join(out, "train"))
	if err != nil {
		t.Fatal(err)
	}
	defer train.Close()
	if train.Len() != stats.Train.Sequences || train.Len() == 0 {
		t.Errorf("train holds %d sequences, stats say %d", train.Len(), stats.Train.Sequences)
	}
	for i := 0; i < train.Len(); i++ {
		ex, err := train.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.IDs) > 32 || len(ex.Starts) == 0 {
			t.Errorf("sequence %d: %d tokens, starts %v", i, len(ex.IDs), ex.Starts)
		}
	}
	// Identical records share a split: 2 distinct records, so each split
	// holds all 40 copies of a record or none.
	if n := stats.Validation.Examples; n != 0 && n != 40 && n != 80 {
		t.Errorf("validation holds %d examples; copies of a record were split apart", n)
	}
}

func TestPrepChatTemplate(t *testing.T) {
	tok := trainedTokenizer(t)
	dataPath := writeData(t, "chat.jsonl",
		`{"messages": [{"role": "user", "content": "what is 2 plus 2?"}, {"role": "assistant", "content": "4"}]}`)
	// No tokenizer_config.json: chat records need --chat-template.
	stdout, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", t.TempDir())
	if code != exitError || !strings.Contains(stdout, "chat.jsonl:1: field \"messages\": chat records need a chat template") || !strings.Contains(errOut, "no usable records") {
		t.Errorf("without a template: exit %d\n%s%s", code, stdout, errOut)
	}
	if _, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", t.TempDir(), "--chat-template", "vicuna"); code != exitUsage || !strings.Contains(errOut, `unknown chat template "vicuna"`) {
		t.Errorf("unknown template: exit %d %s", code, errOut)
	}
	if stdout, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", t.TempDir(), "--chat-template", "chatml"); code != 0 {
		t.Errorf("chatml: exit %d %s%s", code, stdout, errOut)
	}
	// tokenizer_config.json beside the tokenizer: its template is
	// recognised, and an unknown one is an error.
	cfg := filepath.Join(filepath.Dir(tok), "tokenizer_config.json")
	write := func(template string) {
		b, _ := json.Marshal(map[string]any{"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "chat_template": template})
		if err := os.WriteFile(cfg, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}")
	out := t.TempDir()
	if stdout, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", out); code != 0 {
		t.Fatalf("recognised template: exit %d %s%s", code, stdout, errOut)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "stats.json"))
	if !strings.Contains(string(raw), `"chat_template": "chatml"`) || !strings.Contains(string(raw), `"eos": "<|endoftext|>"`) {
		t.Errorf("stats.json options: %s", raw)
	}
	write("{{ messages | tojson }}")
	if _, errOut, code := lorafn(t, "prep", "--tokenizer", tok, "--data", dataPath, "--out", t.TempDir()); code != exitError || !strings.Contains(errOut, "chat_template not recognised") {
		t.Errorf("unknown template in the config: exit %d %s", code, errOut)
	}
}

func TestPrepErrors(t *testing.T) {
	tok := trainedTokenizer(t)
	good := writeData(t, "d.jsonl", `{"text": "hello"}`)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"prep", "--tokenizer", tok, "--out", t.TempDir()}, exitUsage, "--data is required"},
		{[]string{"prep", "--tokenizer", tok, "--data", good, "--out", t.TempDir(), "--overflow", "drop"}, exitUsage, "--overflow"},
		{[]string{"prep", "--tokenizer", tok, "--data", good, "--out", t.TempDir(), "--pack"}, exitError, "packing needs a maximum length"},
		{[]string{"prep", "--tokenizer", tok, "--data", good, "--out", t.TempDir(), "--eos", "</s>"}, exitError, `EOS token "</s>"`},
		{[]string{"prep", "--tokenizer", tok, "--data", writeData(t, "b.jsonl", `{"text": "hello there"}`, `{"text": ""}`), "--out", t.TempDir()}, exitError, "over the error budget"},
	} {
		_, errOut, code := lorafn(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args[1:], code, errOut, c.code, c.want)
		}
	}
}
