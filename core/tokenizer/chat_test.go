package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type chatGolden struct {
	Reference     string      `json:"reference"`
	Conversations [][]Message `json:"conversations"`
	Templates     []struct {
		Name          string  `json:"name"`
		Template      string  `json:"template"`
		BOS           string  `json:"bos"`
		EOS           string  `json:"eos"`
		Family        *string `json:"family"`
		DefaultSystem string  `json:"default_system"`
		ByName        string  `json:"by_name"`
		Renders       []struct {
			Conversation int     `json:"conversation"`
			Gen          bool    `json:"add_generation_prompt"`
			Text         *string `json:"text"`
			Error        *string `json:"error"`
		} `json:"renders"`
	} `json:"templates"`
}

// TestChatGolden renders every conversation with every template lorafn
// recognises, found both from the Jinja source and by name, and compares
// with what @huggingface/jinja rendered from the real chat_template
// strings. Near-miss templates must not be recognised.
func TestChatGolden(t *testing.T) {
	dir := goldenDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "golden", "chat.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g chatGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Templates) < 9 || len(g.Conversations) < 5 {
		t.Fatalf("golden chat data is too small: %d templates, %d conversations", len(g.Templates), len(g.Conversations))
	}
	for _, tc := range g.Templates {
		t.Run(tc.Name, func(t *testing.T) {
			detected, err := DetectChatTemplate(tc.Template, tc.BOS, tc.EOS)
			if tc.Family == nil {
				if err == nil {
					t.Fatalf("recognised as %s; this template renders differently and must be refused", detected.Family)
				}
				if !strings.Contains(err.Error(), "not recognised") {
					t.Errorf("error %q does not say the template is not recognised", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(detected.Family) != *tc.Family || detected.DefaultSystem != tc.DefaultSystem {
				t.Fatalf("recognised as %s with default system %q, want %s with %q", detected.Family, detected.DefaultSystem, *tc.Family, tc.DefaultSystem)
			}
			named, err := ChatTemplateByName(tc.ByName, tc.BOS, tc.EOS)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.Renders {
				msgs := g.Conversations[r.Conversation]
				if r.Text != nil && *tc.Family == string(Llama2) && msgs[0].Role == "system" && msgs[0].Content == "" {
					// The Llama-2 template tests system_message != false.
					// In Python's Jinja (transformers) "" != false holds and
					// an empty <<SYS>> block is printed; @huggingface/jinja
					// treats them as equal and prints none. lorafn follows
					// transformers.
					want := strings.Replace(*r.Text, "[INST] ", "[INST] <<SYS>>\n\n<</SYS>>\n\n", 1)
					r.Text = &want
				}
				for _, c := range []*ChatTemplate{detected, named} {
					got, err := c.Render(msgs, r.Gen)
					switch {
					case r.Error != nil && err == nil:
						t.Errorf("conversation %d (gen %v): rendered %q; the template raises %q", r.Conversation, r.Gen, got.Text, *r.Error)
					case r.Error == nil && err != nil:
						t.Errorf("conversation %d (gen %v): %v; the template renders %q", r.Conversation, r.Gen, err, *r.Text)
					case r.Error == nil && got.Text != *r.Text:
						t.Errorf("conversation %d (gen %v):\n got  %q\n want %q", r.Conversation, r.Gen, got.Text, *r.Text)
					case r.Error == nil:
						checkTrainSpans(t, got, msgs, c)
					}
				}
			}
		})
	}
}

// checkTrainSpans: one span per assistant turn, in order, each holding
// the turn's content followed by the end-of-turn marker.
func checkTrainSpans(t *testing.T, r RenderedChat, msgs []Message, c *ChatTemplate) {
	t.Helper()
	var want []string
	for _, m := range msgs {
		if m.Role == "assistant" {
			want = append(want, strings.TrimSpace(m.Content))
		}
	}
	if len(r.Train) != len(want) {
		t.Errorf("%d trained spans for %d assistant turns", len(r.Train), len(want))
		return
	}
	end := map[ChatFamily]string{ChatML: "<|im_end|>", Llama3: "<|eot_id|>", Llama2: " " + c.EOS, Mistral: c.EOS, Zephyr: c.EOS}[c.Family]
	prev := 0
	for i, s := range r.Train {
		if s.Start < prev || s.End <= s.Start || s.End > len(r.Text) {
			t.Errorf("span %d %+v out of order or range", i, s)
			return
		}
		prev = s.End
		text := r.Text[s.Start:s.End]
		if !strings.HasSuffix(text, end) || strings.TrimSpace(strings.TrimSuffix(text, end)) != want[i] {
			t.Errorf("span %d is %q, want the turn %q and %q", i, text, want[i], end)
		}
	}
}

func TestChatTemplateErrors(t *testing.T) {
	if _, err := ChatTemplateByName("vicuna", "<s>", "</s>"); err == nil || !strings.Contains(err.Error(), "chatml") {
		t.Errorf("unknown name: %v (want the list of known names)", err)
	}
	if _, err := ChatTemplateByName("llama3", "", ""); err == nil {
		t.Error("llama3 without BOS/EOS accepted")
	}
	c, _ := ChatTemplateByName("chatml", "", "")
	for _, msgs := range [][]Message{nil, {{Role: "tool", Content: "x"}}} {
		if _, err := c.Render(msgs, false); err == nil {
			t.Errorf("Render(%v) did not fail", msgs)
		}
	}
	if _, err := DetectChatTemplate("{{ messages }}", "", ""); err == nil || !strings.Contains(err.Error(), "--chat-template") {
		t.Errorf("unknown template: %v", err)
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>",
		"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "y"}]}`))
	if err != nil || cfg.BOSToken != "<s>" || cfg.EOSToken != "</s>" || cfg.ChatTemplate != "y" {
		t.Fatalf("%+v %v", cfg, err)
	}
	for _, bad := range []string{`{"eos_token": 3}`, `{"chat_template": 3}`, `{"chat_template": [{"name": "x", "template": "y"}]}`, `[`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	cfg, _ = ParseConfig([]byte(`{"eos_token": null}`))
	if _, err := cfg.Chat(""); err == nil || !strings.Contains(err.Error(), "no chat_template") {
		t.Errorf("no template: %v", err)
	}
}

// FuzzParseConfig: any tokenizer_config.json either parses or fails with
// an error, and a parsed chat_template is recognised or refused, never a
// panic; a recognised template renders a simple conversation.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"bos_token": "<s>", "eos_token": {"content": "</s>"}, "chat_template": "{{ bos_token }}{% for message in messages %}"}`))
	f.Add([]byte(`{"chat_template": [{"name": "default", "template": "<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'"}]}`))
	f.Add([]byte(`{"eos_token": null, "chat_template": "'<|im_start|>system\\nHi\\\\n<|im_end|>\\n' '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n'"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		c, err := cfg.Chat("")
		if err != nil {
			return
		}
		r, err := c.Render([]Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}}, true)
		if err != nil && c.Family != Mistral && c.Family != Llama2 {
			t.Fatalf("%s: %v", c.Family, err)
		}
		for _, s := range r.Train {
			if s.Start < 0 || s.End > len(r.Text) || s.Start >= s.End {
				t.Fatalf("span %+v outside %d bytes", s, len(r.Text))
			}
		}
	})
}
