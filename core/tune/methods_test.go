package tune

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/prompt"
	"github.com/lorafn/lorafn/core/tokenizer"
)

// TestLoadAdapterReadsEveryMethod saves each PEFT method's adapter and
// loads it back by its peft_type: the logits are the same bit for bit.
func TestLoadAdapterReadsEveryMethod(t *testing.T) {
	base := tinyBase(t, tinyLlama, 4)
	b := &model.Batch{B: 1, T: 6, IDs: []int{3, 1, 4, 1, 5, 9}}
	for _, method := range []string{LoRA, DoRA, IA3, Prompt, Prefix} {
		spec, _ := resumeCase(method)
		m := loadBase(t, base)
		tuned, err := Setup(m, spec, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tuned.PEFT.Params() { // move away from the no-op start
			for i := range p.Data {
				p.Data[i] += 0.01 * float32(i%7-3)
			}
		}
		want, _ := m.Logits(b)
		dir := filepath.Join(t.TempDir(), method)
		if err := tuned.Save(dir); err != nil {
			t.Fatal(err)
		}
		fresh := loadBase(t, base)
		if _, err := LoadAdapter(dir, fresh); err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		got, _ := fresh.Logits(b)
		if !slices.Equal(got, want) {
			t.Errorf("%s: logits differ after LoadAdapter", method)
		}
		if s := Serving(method); !strings.Contains(s, "PEFT") || (method != LoRA && !strings.Contains(s, "PEFT only")) {
			t.Errorf("%s: serving note %q", method, s)
		}
	}
}

// TestPromptTextInit: TEXT initialisation copies the embeddings of the
// init text's tokens, encoded with special tokens by the base's tokenizer.
func TestPromptTextInit(t *testing.T) {
	config := strings.Replace(tinyLlama, `"vocab_size": 61`, `"vocab_size": 300`, 1)
	base := tinyBase(t, config, 5)
	tr, err := tokenizer.NewBPETrainer(tokenizer.TrainOptions{VocabSize: 290, SpecialTokens: []string{"<s>"}})
	if err != nil {
		t.Fatal(err)
	}
	tr.Add("classify the sentiment of the review: positive or negative")
	file, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "tokenizer.json"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(filepath.Join(base, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	text := "classify the sentiment"
	ids := tok.Encode(text, true)
	m := loadBase(t, base)
	spec := Spec{Method: Prompt, Prompt: prompt.Config{NumVirtualTokens: len(ids) + 2, Init: prompt.Text, InitText: text, TokenizerName: base}}
	tuned, err := Setup(m, spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	emb, H := tuned.PEFT.Params()[0].Data, m.Config.Hidden
	for r := range spec.Prompt.NumVirtualTokens {
		id := ids[r%len(ids)]
		if !slices.Equal(emb[r*H:(r+1)*H], m.Weights.Embed.Data[id*H:(id+1)*H]) {
			t.Errorf("virtual token %d is not the embedding of token %d", r, id)
		}
	}
	spec.Prompt.TokenizerName = ""
	if _, err := Setup(loadBase(t, base), spec, 1); err == nil {
		t.Error("TEXT init without a tokenizer: no error")
	}
}

// TestDoRAThroughLoRAOptionsIsFlagged: use_dora under method lora is DoRA
// for the serving note and the card.
func TestDoRAThroughLoRAOptionsIsFlagged(t *testing.T) {
	spec, _ := resumeCase(LoRA)
	spec.LoRA.UseDoRA = true
	tuned, err := Setup(loadBase(t, tinyBase(t, tinyLlama, 6)), spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := tuned.WriteCard(dir, "tiny"); err != nil {
		t.Fatal(err)
	}
	card, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if tuned.Method() != DoRA || !strings.Contains(string(card), "vLLM refuses DoRA") {
		t.Errorf("method %q, card:\n%s", tuned.Method(), card)
	}
}
