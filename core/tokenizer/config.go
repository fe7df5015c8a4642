package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the part of a Hugging Face tokenizer_config.json that lorafn
// uses: the special token strings and the chat template.
type Config struct {
	BOSToken     string
	EOSToken     string
	ChatTemplate string // the Jinja source; empty when the file has none
}

// LoadConfig reads a tokenizer_config.json file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return c, nil
}

// ParseConfig parses the contents of a tokenizer_config.json file. Special
// tokens may be strings or AddedToken objects ({"content": ...});
// chat_template may be a string or a list of named templates, of which the
// one named "default" is used.
func ParseConfig(data []byte) (*Config, error) {
	var raw struct {
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("tokenizer: parse tokenizer_config.json: %w", err)
	}
	var c Config
	var err error
	if c.BOSToken, err = specialToken(raw.BOS, "bos_token"); err != nil {
		return nil, err
	}
	if c.EOSToken, err = specialToken(raw.EOS, "eos_token"); err != nil {
		return nil, err
	}
	if c.ChatTemplate, err = chatTemplateSource(raw.ChatTemplate); err != nil {
		return nil, err
	}
	return &c, nil
}

func specialToken(raw json.RawMessage, field string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("tokenizer: tokenizer_config.json: %s: want a string or an object with \"content\"", field)
	}
	return *obj.Content, nil
}

func chatTemplateSource(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", fmt.Errorf("tokenizer: tokenizer_config.json: chat_template: want a string or a list of {name, template}")
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", fmt.Errorf("tokenizer: tokenizer_config.json: chat_template: no template named \"default\"")
}

// Chat returns the chat template of the config: the one named by name
// (see ChatTemplateNames) or, when name is empty, the family recognised
// from ChatTemplate.
func (c *Config) Chat(name string) (*ChatTemplate, error) {
	if name != "" {
		return ChatTemplateByName(name, c.BOSToken, c.EOSToken)
	}
	if c.ChatTemplate == "" {
		return nil, fmt.Errorf("tokenizer: tokenizer_config.json has no chat_template; name one with --chat-template")
	}
	return DetectChatTemplate(c.ChatTemplate, c.BOSToken, c.EOSToken)
}
