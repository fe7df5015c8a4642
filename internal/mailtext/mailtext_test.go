package mailtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParsePlainWithMboxLine(t *testing.T) {
	raw := "From someone@example.com  Thu Aug 22 13:17:22 2002\n" +
		"Subject: =?iso-8859-1?q?Caf=E9?= news\n" +
		"Content-Type: text/plain; charset=iso-8859-1\n" +
		"Content-Transfer-Encoding: quoted-printable\n\n" +
		"Hello=20there,\nthe caf=E9 is =\nopen &amp; warm.\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Café news" {
		t.Errorf("subject %q, want %q", m.Subject, "Café news")
	}
	if want := "Hello there, the café is open & warm."; m.Body != want {
		t.Errorf("body %q, want %q", m.Body, want)
	}
}

func TestParseMultipartPrefersPlain(t *testing.T) {
	raw := "Subject: offer\n" +
		"Content-Type: multipart/alternative; boundary=\"XX\"\n\n" +
		"--XX\nContent-Type: text/html\n\n<p>html <b>body</b></p>\n" +
		"--XX\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" +
		"cGxhaW4g\nYm9keQ==\n" +
		"--XX--\n"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Body != "plain body" {
		t.Errorf("body %q, want %q", m.Body, "plain body")
	}
}

func TestParseHTMLOnly(t *testing.T) {
	raw := "Subject: Win\nContent-Type: text/html; charset=\"us-ascii\"\n\n" +
		"<html><head><style>p {color: red}</style><script>var x = 1;</script></head>" +
		"<body><!-- hidden --><p>Click&nbsp;<a href=\"x\">here</a> &amp; win!</p></body></html>"
	m, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Click here & win!"; m.Body != want {
		t.Errorf("body %q, want %q", m.Body, want)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse([]byte("no header here")); err == nil {
		t.Error("a message without headers parsed")
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"one two three", 9, "one two"},
		{"abcdefghij", 4, "abcd"},
		{"ab café", 6, "ab"},
		{"one two three", 7, "one two"},
		{"éééé", 3, "é"},
	} {
		if got := Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	got, err := Text(Message{Subject: "Hi", Body: "a b c d e f"}, 18)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: Hi\n\na b c"; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if _, err := Text(Message{}, 10); err != ErrEmpty {
		t.Errorf("empty message: err %v, want ErrEmpty", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("Subject: x\n\nbody"))
	f.Add([]byte("From a b\nSubject: =?utf-8?b?w6k=?=\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>=E9</p>\n--b--\n"))
	f.Add([]byte("Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n////\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(raw)
		if err != nil {
			return
		}
		for _, s := range []string{m.Subject, m.Body} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
			if s != strings.TrimSpace(s) || strings.Contains(s, "  ") || strings.ContainsAny(s, "\n\t") {
				t.Fatalf("white space not collapsed: %q", s)
			}
		}
		if txt, err := Text(m, 50); err == nil && (len(txt) > 50 || !utf8.ValidString(txt)) {
			t.Fatalf("Text gave %d bytes or invalid UTF-8: %q", len(txt), txt)
		}
	})
}
