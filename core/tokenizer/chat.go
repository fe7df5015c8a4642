package tokenizer

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Message is one turn of a conversation, as in a chat dataset's
// "messages" list.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Span is the byte range [Start, End) of a rendered text.
type Span struct{ Start, End int }

// RenderedChat is a conversation rendered to the text a model sees. Train
// lists, in order and without overlap, the parts a model is trained to
// produce: each assistant turn's content and its end-of-turn marker.
type RenderedChat struct {
	Text  string
	Train []Span
}

// ChatFamily names a chat-template family that lorafn renders natively.
type ChatFamily string

// The supported families. Each renders exactly what the Hugging Face
// chat_template of that family renders (with transformers' Jinja settings)
// for conversations of system, user and assistant turns.
const (
	// ChatML: <|im_start|>role\ncontent<|im_end|>\n, with an optional
	// default system turn (Qwen2, Qwen2.5, SmolLM2 instruct).
	ChatML ChatFamily = "chatml"
	// Llama3: <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>,
	// BOS first, contents trimmed (Meta-Llama-3-Instruct).
	Llama3 ChatFamily = "llama3"
	// Llama2: <s>[INST] <<SYS>>...<</SYS>> user [/INST] answer </s>,
	// roles alternating (Llama-2-chat, TinyLlama-Chat's base format).
	Llama2 ChatFamily = "llama2"
	// Mistral: <s>[INST] user [/INST]answer</s>, no system turn
	// (Mistral-7B-Instruct v0.1 and v0.2).
	Mistral ChatFamily = "mistral"
	// Zephyr: <|user|>\ncontent</s>\n (Zephyr, TinyLlama-1.1B-Chat-v1.0).
	Zephyr ChatFamily = "zephyr"
)

// Default system prompts of the ChatML models that insert one when a
// conversation has no system turn.
const (
	qwen2System  = "You are a helpful assistant."
	qwen25System = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
	smolSystem   = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
)

// chatNames maps the names accepted by ChatTemplateByName to a family and
// its default system prompt.
var chatNames = map[string]struct {
	family ChatFamily
	system string
}{
	"chatml":  {ChatML, ""},
	"qwen2":   {ChatML, qwen2System},
	"qwen2.5": {ChatML, qwen25System},
	"smollm2": {ChatML, smolSystem},
	"llama3":  {Llama3, ""},
	"llama2":  {Llama2, ""},
	"mistral": {Mistral, ""},
	"zephyr":  {Zephyr, ""},
}

// ChatTemplateNames lists the names ChatTemplateByName accepts.
func ChatTemplateNames() []string {
	names := make([]string, 0, len(chatNames))
	for n := range chatNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ChatTemplate renders conversations for one model family. BOS and EOS are
// the token strings that templates printing bos_token and eos_token use.
type ChatTemplate struct {
	Family ChatFamily
	// DefaultSystem is inserted as a system turn when a conversation does
	// not start with one (ChatML only; empty: none).
	DefaultSystem string
	BOS, EOS      string
}

// ChatTemplateByName returns the named template (see ChatTemplateNames).
func ChatTemplateByName(name, bos, eos string) (*ChatTemplate, error) {
	n, ok := chatNames[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("tokenizer: unknown chat template %q (known: %s)", name, strings.Join(ChatTemplateNames(), ", "))
	}
	return newChatTemplate(n.family, n.system, bos, eos)
}

func newChatTemplate(f ChatFamily, system, bos, eos string) (*ChatTemplate, error) {
	if f != ChatML && eos == "" {
		return nil, fmt.Errorf("tokenizer: chat template %s needs the EOS token (eos_token)", f)
	}
	if (f == Llama3 || f == Llama2 || f == Mistral) && bos == "" {
		return nil, fmt.Errorf("tokenizer: chat template %s needs the BOS token (bos_token)", f)
	}
	return &ChatTemplate{Family: f, DefaultSystem: system, BOS: bos, EOS: eos}, nil
}

// chatmlSystem finds a ChatML template's literal default system turn, a
// Jinja string such as '<|im_start|>system\nYou are ...<|im_end|>\n'.
var chatmlSystem = regexp.MustCompile(`'<\|im_start\|>system\\n((?:[^'\\]|\\.)*)<\|im_end\|>\\n'`)

// Signatures: fragments of the Jinja source that only the templates each
// family stands for contain, as written in the models' tokenizer_config.json.
var (
	chatmlTurn = []string{
		`'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'`, // Qwen2, SmolLM2, ChatML
		`'<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n'`,       // Qwen2.5
	}
	llama3Sig = []string{
		`'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>'`,
		`{% set content = bos_token + content %}`,
	}
	llama2Sig = []string{
		`{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}`,
		`{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}`,
		`{{ ' '  + content.strip() + ' ' + eos_token }}`,
	}
	mistralSig = []string{
		`{{ bos_token }}{% for message in messages %}`,
		`{{ '[INST] ' + message['content'] + ' [/INST]' }}`,
		`{{ message['content'] + eos_token}}`,
		`raise_exception('Only user and assistant roles are supported!')`,
	}
	zephyrSig = []string{
		`{{ '<|user|>\n' + message['content'] + eos_token }}`,
		`{{ '<|system|>\n' + message['content'] + eos_token }}`,
		`{{ '<|assistant|>\n'  + message['content'] + eos_token }}`,
		`{{ '<|assistant|>' }}`,
	}
	// Features lorafn does not render: a template using any is not taken
	// for its family even if the signature matches.
	unsupported = []string{"<think>", "reasoning_content", "Cutting Knowledge Date", "USE_DEFAULT_PROMPT", "DEFAULT_SYSTEM_MESSAGE", "[SYSTEM_PROMPT]", "[AVAILABLE_TOOLS]", "generation %}"}
)

// DetectChatTemplate recognises the family of a Jinja chat_template (from
// tokenizer_config.json) by fragments that only that family's templates
// contain. A template lorafn does not recognise is an error, not a guess:
// rendering it in a near-miss format would train the model on text it
// never sees when served.
func DetectChatTemplate(src, bos, eos string) (*ChatTemplate, error) {
	allOf := func(subs []string) bool {
		for _, s := range subs {
			if !strings.Contains(src, s) {
				return false
			}
		}
		return true
	}
	anyOf := func(subs []string) bool {
		for _, s := range subs {
			if strings.Contains(src, s) {
				return true
			}
		}
		return false
	}
	switch {
	case anyOf(unsupported):
	case anyOf(chatmlTurn) && !strings.Contains(src, "bos_token") && !strings.Contains(src, "eos_token"):
		system := ""
		if m := chatmlSystem.FindStringSubmatch(src); m != nil {
			system = jinjaUnescape(m[1])
		}
		return newChatTemplate(ChatML, system, bos, eos)
	case allOf(llama3Sig):
		return newChatTemplate(Llama3, "", bos, eos)
	case allOf(llama2Sig):
		return newChatTemplate(Llama2, "", bos, eos)
	case allOf(mistralSig):
		return newChatTemplate(Mistral, "", bos, eos)
	case allOf(zephyrSig):
		return newChatTemplate(Zephyr, "", bos, eos)
	}
	return nil, fmt.Errorf("tokenizer: chat_template not recognised (lorafn renders %s); name one with --chat-template", strings.Join(ChatTemplateNames(), ", "))
}

// jinjaUnescape resolves the backslash escapes of a Jinja string literal.
func jinjaUnescape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			sb.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}

// chatBuilder accumulates rendered text and its trained spans.
type chatBuilder struct {
	sb    strings.Builder
	train []Span
}

func (b *chatBuilder) add(parts ...string) {
	for _, p := range parts {
		b.sb.WriteString(p)
	}
}

// trained appends text the model learns to produce.
func (b *chatBuilder) trained(parts ...string) {
	start := b.sb.Len()
	b.add(parts...)
	if end := b.sb.Len(); end > start {
		b.train = append(b.train, Span{start, end})
	}
}

// Render renders msgs. With addGenerationPrompt, the header of a new
// assistant turn is appended, as for generation. Roles must be system,
// user or assistant; families that require alternating user and assistant
// turns reject other orders, as their templates do.
func (c *ChatTemplate) Render(msgs []Message, addGenerationPrompt bool) (RenderedChat, error) {
	if len(msgs) == 0 {
		return RenderedChat{}, fmt.Errorf("tokenizer: chat: no messages")
	}
	for i, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return RenderedChat{}, fmt.Errorf("tokenizer: chat: messages[%d]: role %q (want system, user or assistant)", i, m.Role)
		}
	}
	var b chatBuilder
	var err error
	switch c.Family {
	case ChatML:
		c.chatml(&b, msgs, addGenerationPrompt)
	case Llama3:
		c.llama3(&b, msgs, addGenerationPrompt)
	case Llama2:
		err = c.llama2(&b, msgs)
	case Mistral:
		err = c.mistral(&b, msgs)
	case Zephyr:
		c.zephyr(&b, msgs, addGenerationPrompt)
	default:
		err = fmt.Errorf("tokenizer: chat: unknown family %q", c.Family)
	}
	if err != nil {
		return RenderedChat{}, err
	}
	return RenderedChat{Text: b.sb.String(), Train: b.train}, nil
}

func (c *ChatTemplate) chatml(b *chatBuilder, msgs []Message, gen bool) {
	if msgs[0].Role != "system" && c.DefaultSystem != "" {
		b.add("<|im_start|>system\n", c.DefaultSystem, "<|im_end|>\n")
	}
	for _, m := range msgs {
		b.add("<|im_start|>", m.Role, "\n")
		if m.Role == "assistant" {
			b.trained(m.Content, "<|im_end|>")
			b.add("\n")
		} else {
			b.add(m.Content, "<|im_end|>\n")
		}
	}
	if gen {
		b.add("<|im_start|>assistant\n")
	}
}

func (c *ChatTemplate) llama3(b *chatBuilder, msgs []Message, gen bool) {
	for i, m := range msgs {
		if i == 0 {
			b.add(c.BOS)
		}
		b.add("<|start_header_id|>", m.Role, "<|end_header_id|>\n\n")
		if m.Role == "assistant" {
			b.trained(jinjaTrim(m.Content), "<|eot_id|>")
		} else {
			b.add(jinjaTrim(m.Content), "<|eot_id|>")
		}
	}
	if gen {
		b.add("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
}

// alternate checks the user/assistant/user/... order that the Llama-2 and
// Mistral templates enforce with raise_exception.
func alternate(family ChatFamily, msgs []Message) error {
	for i, m := range msgs {
		if (m.Role == "user") != (i%2 == 0) {
			return fmt.Errorf("tokenizer: chat (%s): roles must alternate user/assistant/user/...; turn %d is %q", family, i, m.Role)
		}
	}
	return nil
}

func (c *ChatTemplate) llama2(b *chatBuilder, msgs []Message) error {
	system, hasSystem := "", false
	if msgs[0].Role == "system" {
		system, hasSystem = msgs[0].Content, true
		msgs = msgs[1:]
	}
	if err := alternate(Llama2, msgs); err != nil {
		return err
	}
	for i, m := range msgs {
		content := m.Content
		if i == 0 && hasSystem {
			content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
		}
		if m.Role == "user" {
			b.add(c.BOS, "[INST] ", jinjaTrim(content), " [/INST]")
		} else {
			b.add(" ")
			b.trained(jinjaTrim(content), " ", c.EOS)
		}
	}
	return nil
}

func (c *ChatTemplate) mistral(b *chatBuilder, msgs []Message) error {
	for i, m := range msgs {
		if m.Role == "system" {
			return fmt.Errorf("tokenizer: chat (mistral): turn %d: the template supports only user and assistant roles", i)
		}
	}
	if err := alternate(Mistral, msgs); err != nil {
		return err
	}
	b.add(c.BOS)
	for _, m := range msgs {
		if m.Role == "user" {
			b.add("[INST] ", m.Content, " [/INST]")
		} else {
			b.trained(m.Content, c.EOS)
		}
	}
	return nil
}

func (c *ChatTemplate) zephyr(b *chatBuilder, msgs []Message, gen bool) {
	for _, m := range msgs {
		b.add("<|", m.Role, "|>\n")
		if m.Role == "assistant" {
			b.trained(m.Content, c.EOS)
		} else {
			b.add(m.Content, c.EOS)
		}
		b.add("\n")
	}
	if gen {
		b.add("<|assistant|>\n")
	}
}

// jinjaTrim is Jinja's trim filter (Python's str.strip): leading and
// trailing whitespace removed.
func jinjaTrim(s string) string { return strings.TrimSpace(s) }
