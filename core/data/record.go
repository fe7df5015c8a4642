package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lorafn/lorafn/core/tokenizer"
)

// Format is a record layout.
type Format string

const (
	FormatText             Format = "text"
	FormatPromptCompletion Format = "prompt_completion"
	FormatChat             Format = "chat"
	FormatAlpaca           Format = "alpaca"
	FormatTextLabel        Format = "text_label"
	FormatTokens           Format = "tokens"
)

// Record is one validated dataset record. Only the fields of its Format
// are set. File and Line say where it came from and are not part of its
// content (they do not affect the train/validation split).
type Record struct {
	Format      Format              `json:"format"`
	Text        string              `json:"text,omitempty"`
	Prompt      string              `json:"prompt,omitempty"`
	Completion  string              `json:"completion,omitempty"`
	Instruction string              `json:"instruction,omitempty"`
	Input       string              `json:"input,omitempty"`
	Output      string              `json:"output,omitempty"`
	Label       string              `json:"label,omitempty"`
	Messages    []tokenizer.Message `json:"messages,omitempty"`
	InputIDs    []int               `json:"input_ids,omitempty"`
	Labels      []int               `json:"labels,omitempty"`

	File string `json:"-"`
	Line int    `json:"-"`
}

// fieldError is a record problem before the line is known.
type fieldError struct {
	field string
	kind  Kind
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }

func ferr(field string, kind Kind, format string, args ...any) *fieldError {
	return &fieldError{field, kind, fmt.Errorf(format, args...)}
}

// atLine turns a record problem into a *LineError.
func atLine(err error, file string, line int) *LineError {
	var fe *fieldError
	if errors.As(err, &fe) {
		return &LineError{File: file, Line: line, Field: fe.field, Kind: fe.kind, Err: fe.err}
	}
	return &LineError{File: file, Line: line, Kind: KindBadJSON, Err: err}
}

// jsonType names the JSON type of a raw value for error messages.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// str decodes a required string field.
func str(obj map[string]json.RawMessage, field string) (string, error) {
	raw, ok := obj[field]
	if !ok {
		return "", ferr(field, KindMissing, "missing")
	}
	return strValue(raw, field)
}

func strValue(raw json.RawMessage, field string) (string, error) {
	var s string
	if jsonType(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", ferr(field, KindType, "want a string, got %s", jsonType(raw))
	}
	return s, nil
}

// nonEmpty decodes a required string field that must hold some
// non-whitespace text.
func nonEmpty(obj map[string]json.RawMessage, field string) (string, error) {
	s, err := str(obj, field)
	if err == nil && strings.TrimSpace(s) == "" {
		err = ferr(field, KindEmpty, "empty")
	}
	return s, err
}

// ints decodes a list of integers.
func ints(raw json.RawMessage, field string) ([]int, error) {
	var items []json.RawMessage
	if jsonType(raw) != "a list" || json.Unmarshal(raw, &items) != nil {
		return nil, ferr(field, KindType, "want a list of integers, got %s", jsonType(raw))
	}
	out := make([]int, len(items))
	for i, it := range items {
		v, err := strconv.ParseInt(string(bytes.TrimSpace(it)), 10, 32)
		if err != nil {
			return nil, ferr(fmt.Sprintf("%s[%d]", field, i), KindType, "want an integer, got %s", strings.TrimSpace(string(it)))
		}
		out[i] = int(v)
	}
	return out, nil
}

// knownFormats is the help text for records of no known format.
const knownFormats = `want "text", "prompt"+"completion", "messages", "instruction"+"output", "text"+"label" or "input_ids"`

// parseRecord recognises the format of a decoded JSON object by its fields
// and validates them.
func parseRecord(obj map[string]json.RawMessage) (Record, error) {
	has := func(k string) bool { _, ok := obj[k]; return ok }
	var r Record
	var err error
	switch {
	case has("messages"):
		r.Format = FormatChat
		r.Messages, err = parseMessages(obj["messages"])
	case has("input_ids"):
		r.Format = FormatTokens
		err = parseTokens(obj, &r)
	case has("instruction"):
		r.Format = FormatAlpaca
		if r.Instruction, err = nonEmpty(obj, "instruction"); err != nil {
			return r, err
		}
		if has("input") {
			if r.Input, err = str(obj, "input"); err != nil {
				return r, err
			}
		}
		r.Output, err = nonEmpty(obj, "output")
	case has("prompt") || has("completion"):
		r.Format = FormatPromptCompletion
		if r.Prompt, err = nonEmpty(obj, "prompt"); err != nil {
			return r, err
		}
		r.Completion, err = nonEmpty(obj, "completion")
	case has("label"):
		r.Format = FormatTextLabel
		if r.Text, err = nonEmpty(obj, "text"); err != nil {
			return r, err
		}
		r.Label, err = labelValue(obj["label"])
	case has("text"):
		r.Format = FormatText
		r.Text, err = nonEmpty(obj, "text")
	default:
		return r, ferr("", KindNoFormat, "no known fields: %s", knownFormats)
	}
	return r, err
}

// labelValue accepts a string, number or boolean label and returns its
// text (numbers as written in the file).
func labelValue(raw json.RawMessage) (string, error) {
	switch jsonType(raw) {
	case "a string":
		s, err := strValue(raw, "label")
		if err == nil && strings.TrimSpace(s) == "" {
			err = ferr("label", KindEmpty, "empty")
		}
		return s, err
	case "a number", "a boolean":
		return string(bytes.TrimSpace(raw)), nil
	}
	return "", ferr("label", KindType, "want a string, number or boolean, got %s", jsonType(raw))
}

func parseMessages(raw json.RawMessage) ([]tokenizer.Message, error) {
	var items []json.RawMessage
	if jsonType(raw) != "a list" || json.Unmarshal(raw, &items) != nil {
		return nil, ferr("messages", KindType, "want a list of {role, content}, got %s", jsonType(raw))
	}
	if len(items) == 0 {
		return nil, ferr("messages", KindEmpty, "empty list")
	}
	msgs := make([]tokenizer.Message, len(items))
	assistant := false
	for i, it := range items {
		field := fmt.Sprintf("messages[%d]", i)
		var obj map[string]json.RawMessage
		if jsonType(it) != "an object" || json.Unmarshal(it, &obj) != nil {
			return nil, ferr(field, KindType, "want an object {role, content}, got %s", jsonType(it))
		}
		role, err := str(obj, "role")
		if err != nil {
			return nil, prefixField(field, err)
		}
		content, err := str(obj, "content")
		if err != nil {
			return nil, prefixField(field, err)
		}
		switch role {
		case "system", "user":
		case "assistant":
			if strings.TrimSpace(content) == "" {
				return nil, ferr(field+".content", KindEmpty, "empty assistant turn")
			}
			assistant = true
		default:
			return nil, ferr(field+".role", KindType, "role %q: want system, user or assistant", role)
		}
		msgs[i] = tokenizer.Message{Role: role, Content: content}
	}
	if !assistant {
		return nil, ferr("messages", KindNoTraining, "no assistant turn to train on")
	}
	return msgs, nil
}

// prefixField puts a parent field name in front of a nested field error.
func prefixField(parent string, err error) error {
	var fe *fieldError
	if errors.As(err, &fe) {
		return &fieldError{parent + "." + fe.field, fe.kind, fe.err}
	}
	return err
}

func parseTokens(obj map[string]json.RawMessage, r *Record) error {
	var err error
	if r.InputIDs, err = ints(obj["input_ids"], "input_ids"); err != nil {
		return err
	}
	if len(r.InputIDs) == 0 {
		return ferr("input_ids", KindEmpty, "empty list")
	}
	raw, ok := obj["labels"]
	if !ok || jsonType(raw) == "null" {
		return nil
	}
	if r.Labels, err = ints(raw, "labels"); err != nil {
		return err
	}
	if len(r.Labels) != len(r.InputIDs) {
		return ferr("labels", KindType, "%d labels for %d input_ids", len(r.Labels), len(r.InputIDs))
	}
	return nil
}
