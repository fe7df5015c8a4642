package data

import (
	"fmt"

	"github.com/lorafn/lorafn/core/tokenizer"
)

// rendered is a record as text, with the byte spans that carry loss.
// addSpecial says whether the tokenizer adds its special tokens (BOS):
// raw text does, chat templates print their own.
type rendered struct {
	text       string
	train      []tokenizer.Span
	addSpecial bool
	appendEOS  bool // the record ends with a trained completion that should end in EOS
}

// Alpaca's prompts, as in the Stanford Alpaca repository.
const (
	alpacaWithInput = "Below is an instruction that describes a task, paired with an input that provides further context. " +
		"Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n"
	alpacaNoInput = "Below is an instruction that describes a task. " +
		"Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n"
)

// PromptCompletion returns the prompt and completion a record trains on
// without a chat template; ok is false for plain text, chat and token
// records. Evaluation uses it to prompt a model the way it was trained.
func PromptCompletion(r Record) (prompt, completion string, ok bool) {
	switch r.Format {
	case FormatPromptCompletion:
		return r.Prompt, r.Completion, true
	case FormatAlpaca:
		if r.Input != "" {
			return fmt.Sprintf(alpacaWithInput, r.Instruction, r.Input), r.Output, true
		}
		return fmt.Sprintf(alpacaNoInput, r.Instruction), r.Output, true
	case FormatTextLabel:
		return r.Text + "\n", r.Label, true
	}
	return "", "", false
}

// Conversation returns the messages a record becomes under a chat
// template: chat records as they are, prompt/completion, alpaca and
// text/label records as one user turn and one assistant turn.
func Conversation(r Record) ([]tokenizer.Message, bool) {
	switch r.Format {
	case FormatChat:
		return r.Messages, true
	case FormatPromptCompletion:
		return turn(r.Prompt, r.Completion), true
	case FormatAlpaca:
		user := r.Instruction
		if r.Input != "" {
			user += "\n\n" + r.Input
		}
		return turn(user, r.Output), true
	case FormatTextLabel:
		return turn(r.Text, r.Label), true
	}
	return nil, false
}

func turn(user, assistant string) []tokenizer.Message {
	return []tokenizer.Message{{Role: "user", Content: user}, {Role: "assistant", Content: assistant}}
}

// render turns a text record into text and trained spans. chat may be nil
// when no chat template is set; chat records then fail. With trainAll,
// every byte is trained.
func render(r Record, chat *tokenizer.ChatTemplate, trainAll bool) (rendered, error) {
	var out rendered
	switch {
	case r.Format == FormatText:
		out = rendered{text: r.Text, train: []tokenizer.Span{{Start: 0, End: len(r.Text)}}, addSpecial: true, appendEOS: true}
	case chat != nil:
		msgs, _ := Conversation(r)
		rc, err := chat.Render(msgs, false)
		if err != nil {
			return out, ferr("", KindTemplate, "%v", err)
		}
		out = rendered{text: rc.Text, train: rc.Train}
	case r.Format == FormatChat:
		return out, ferr("messages", KindTemplate, "chat records need a chat template (tokenizer_config.json's chat_template or --chat-template)")
	default:
		prompt, completion, _ := PromptCompletion(r)
		text := prompt + completion
		out = rendered{text: text, train: []tokenizer.Span{{Start: len(prompt), End: len(text)}}, addSpecial: true, appendEOS: true}
	}
	if trainAll {
		out.train = []tokenizer.Span{{Start: 0, End: len(out.text)}}
	}
	return out, nil
}
