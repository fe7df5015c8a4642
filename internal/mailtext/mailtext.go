// Package mailtext turns a raw RFC 822 e-mail message into plain text: the
// decoded subject and a readable body. It exists to build lorafn's
// spam/ham example dataset from the SpamAssassin corpus, whose messages
// mix MIME multiparts, quoted-printable, base64, HTML and legacy charsets.
package mailtext

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// maxParts bounds the MIME parts visited, so a hostile message cannot
// make extraction walk forever.
const maxParts = 64

// Message is the text of one e-mail.
type Message struct {
	Subject string
	Body    string // whitespace collapsed to single spaces
}

// Parse reads a raw message. A leading mbox "From " line is skipped. The
// body is the first text/plain part, else the first text/html part with
// its markup removed; a message with neither has an empty body.
func Parse(raw []byte) (Message, error) {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		} else {
			raw = nil
		}
	}
	msg, err := mail.ReadMessage(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return Message{}, fmt.Errorf("mailtext: %w", err)
	}
	subject := decodeHeader(msg.Header.Get("Subject"))
	w := walker{}
	w.visit(textproto(msg.Header), msg.Body, 0)
	// Plain parts of this corpus often carry HTML entities too (feeds).
	body := html.UnescapeString(w.plain)
	if body == "" {
		body = stripHTML(w.html)
	}
	return Message{Subject: collapse(subject), Body: collapse(body)}, nil
}

// header is the part of a MIME header the walker reads.
type header interface{ Get(string) string }

func textproto(h mail.Header) header { return h }

// walker collects the first plain-text and the first HTML body.
type walker struct {
	plain, html string
	parts       int
}

func (w *walker) visit(h header, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts || depth > 8 || (w.plain != "" && w.html != "") {
		return
	}
	ctype := h.Get("Content-Type")
	media, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		media, params = "text/plain", nil // RFC 2045 default, also for broken headers
		if ctype != "" && strings.Contains(strings.ToLower(ctype), "html") {
			media = "text/html"
		}
	}
	if strings.HasPrefix(media, "multipart/") {
		if params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return // io.EOF or a broken part: keep what was found
			}
			w.visit(p.Header, p, depth+1)
		}
	}
	if media != "text/plain" && media != "text/html" {
		return
	}
	data, err := io.ReadAll(io.LimitReader(decodeTransfer(h.Get("Content-Transfer-Encoding"), body), 1<<20))
	if err != nil && len(data) == 0 {
		return
	}
	text := toUTF8(data, params["charset"])
	if media == "text/plain" && w.plain == "" {
		w.plain = text
	}
	if media == "text/html" && w.html == "" {
		w.html = text
	}
}

func decodeTransfer(enc string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	}
	return r
}

// stripSpace drops the line breaks and blanks that base64 bodies carry.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// toUTF8 converts the body bytes: UTF-8 and ASCII stay, single-byte
// Western charsets map byte to code point (Latin-1), anything else keeps
// its valid UTF-8 and loses the rest.
func toUTF8(b []byte, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso-8859-15", "windows-1252", "latin1", "us-ascii", "ascii":
		if !utf8.Valid(b) {
			return latin1(b)
		}
	}
	return strings.ToValidUTF8(string(b), "")
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// decodeHeader decodes RFC 2047 encoded words; unknown charsets pass
// through as Latin-1.
func decodeHeader(s string) string {
	d := mime.WordDecoder{CharsetReader: func(_ string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return strings.NewReader(toUTF8(b, "latin1")), nil
	}}
	out, err := d.DecodeHeader(s)
	if err != nil {
		return strings.ToValidUTF8(s, "")
	}
	return strings.ToValidUTF8(out, "")
}

// stripHTML removes tags, comments and the contents of style and script
// elements, and unescapes entities.
func stripHTML(s string) string {
	var b strings.Builder
	low := strings.ToLower(s)
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "<!--"):
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				i = len(s)
			} else {
				i += 4 + end + 3
			}
		case s[i] == '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				i = len(s)
				continue
			}
			tag := low[i : i+end]
			i += end + 1
			for _, skip := range []string{"style", "script"} {
				if strings.HasPrefix(tag, "<"+skip) {
					if close := strings.Index(low[i:], "</"+skip); close >= 0 {
						i += close
					} else {
						i = len(s)
					}
				}
			}
			b.WriteByte(' ')
		default:
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			i += j
		}
	}
	return html.UnescapeString(b.String())
}

// collapse turns every run of white space into one space and trims.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// Truncate cuts s to at most n bytes at a word boundary (or mid-word when
// the first word is longer), never inside a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if s[cut] != ' ' { // mid-word: go back to the last space
		if sp := strings.LastIndexByte(s[:cut], ' '); sp > 0 {
			cut = sp
		}
	}
	return strings.TrimSpace(s[:cut])
}

// ErrEmpty is returned by Text for a message without subject and body.
var ErrEmpty = errors.New("mailtext: message has no subject and no body text")

// Text renders a message as "Subject: ...\n\n<body>" truncated to n
// bytes.
func Text(m Message, n int) (string, error) {
	if m.Subject == "" && m.Body == "" {
		return "", ErrEmpty
	}
	return Truncate("Subject: "+m.Subject+"\n\n"+m.Body, n), nil
}
