package s3

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Published check values of each algorithm for the ASCII digits
// "123456789" (the CRC catalogue's standard input).
func TestChecksumKnownAnswers(t *testing.T) {
	want := map[string]string{
		"crc32":     "cbf43926",
		"crc32c":    "e3069283",
		"crc64nvme": "ae8b14860a799888",
		"sha1":      "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
		"sha256":    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
	}
	for alg, hexWant := range want {
		h := checksumAlgorithms[alg]()
		io.WriteString(h, "123456789")
		if got := fmt.Sprintf("%x", h.Sum(nil)); got != hexWant {
			t.Errorf("%s(123456789) = %s, want %s", alg, got, hexWant)
		}
	}
}

func crc32b64(s string) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc32.ChecksumIEEE([]byte(s)))
	return base64.StdEncoding.EncodeToString(b[:])
}

// rawPut sends a hand-built request, so the exact bytes of each wire
// encoding are under the test's control.
func rawPut(t *testing.T, url, key string, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url+"/raw/"+key, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWireEncodings(t *testing.T) {
	srv, url := startServer(t, Options{})
	if _, err := http.DefaultClient.Do(must(http.NewRequest(http.MethodPut, url+"/raw", nil))); err != nil {
		t.Fatal(err)
	}
	content := "hello, chunked world"
	sig := strings.Repeat("0", 64)
	signedChunked := fmt.Sprintf("b;chunk-signature=%s\r\nhello, chun\r\n9;chunk-signature=%s\r\nked world\r\n0;chunk-signature=%s\r\n\r\n", sig, sig, sig)
	unsignedTrailer := "b\r\nhello, chun\r\n9\r\nked world\r\n0\r\nx-amz-checksum-crc32:" + crc32b64(content) + "\r\n\r\n"
	signedTrailer := fmt.Sprintf("b;chunk-signature=%s\r\nhello, chun\r\n9;chunk-signature=%s\r\nked world\r\n0;chunk-signature=%s\r\nx-amz-checksum-crc32:%s\r\nx-amz-trailer-signature:%s\r\n\r\n", sig, sig, sig, crc32b64(content), sig)
	md5sum := md5.Sum([]byte(content))
	cases := []struct {
		name   string
		body   string
		header map[string]string
		code   string // expected error code, "" for success
	}{
		{"plain", content, nil, ""},
		{"plain+content-md5", content, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(md5sum[:])}, ""},
		{"plain+bad-content-md5", content, map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(make([]byte, 16))}, "BadDigest"},
		{"plain+crc32-header", content, map[string]string{"X-Amz-Checksum-Crc32": crc32b64(content)}, ""},
		{"plain+bad-crc32-header", content, map[string]string{"X-Amz-Checksum-Crc32": crc32b64("other")}, "BadDigest"},
		{"plain+bad-sha256", content, map[string]string{"X-Amz-Content-Sha256": strings.Repeat("ab", 32)}, "XAmzContentSHA256Mismatch"},
		{"signed-chunked", signedChunked, map[string]string{"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "20"}, ""},
		{"unsigned-trailer", unsignedTrailer, map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "20", "X-Amz-Trailer": "x-amz-checksum-crc32"}, ""},
		{"signed-trailer", signedTrailer, map[string]string{"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "20", "X-Amz-Trailer": "x-amz-checksum-crc32"}, ""},
		{"trailer-wrong-checksum", strings.Replace(unsignedTrailer, crc32b64(content), crc32b64("x"), 1), map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "X-Amz-Trailer": "x-amz-checksum-crc32"}, "BadDigest"},
		{"trailer-missing", "b\r\nhello, chun\r\n9\r\nked world\r\n0\r\n\r\n", map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "X-Amz-Trailer": "x-amz-checksum-crc32"}, "InvalidRequest"},
		{"decoded-length-mismatch", signedChunked, map[string]string{"X-Amz-Content-Sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "X-Amz-Decoded-Content-Length": "21"}, "IncompleteBody"},
		{"chunk-cut-short", "b\r\nhello", map[string]string{"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}, "InvalidRequest"},
		{"bad-chunk-size", "zz\r\nhello\r\n0\r\n\r\n", map[string]string{"Content-Encoding": "aws-chunked"}, "InvalidRequest"},
		{"missing-crlf-after-data", "5\r\nhelloXX0\r\n\r\n", map[string]string{"Content-Encoding": "aws-chunked"}, "InvalidRequest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := c.name
			resp, body := rawPut(t, url, key, c.body, c.header)
			if c.code != "" {
				if resp.StatusCode < 400 || !strings.Contains(body, "<Code>"+c.code+"</Code>") {
					t.Fatalf("status %d body %s, want error %s", resp.StatusCode, body, c.code)
				}
				srv.mu.Lock()
				_, stored := srv.buckets["raw"].objects[key]
				srv.mu.Unlock()
				if stored {
					t.Errorf("a rejected upload was stored")
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if want := fmt.Sprintf(`"%x"`, md5sum); resp.Header.Get("ETag") != want {
				t.Errorf("ETag %s, want %s", resp.Header.Get("ETag"), want)
			}
			get, err := http.Get(url + "/raw/" + key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if string(got) != content || get.Header.Get("Content-Encoding") != "" {
				t.Errorf("stored %q (Content-Encoding %q), want %q with no aws-chunked", got, get.Header.Get("Content-Encoding"), content)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestParseRange(t *testing.T) {
	cases := []struct {
		header      string
		size        int64
		first, last int64
		ok          bool
		invalid     bool
	}{
		{"bytes=0-0", 10, 0, 0, true, false},
		{"bytes=0-99", 10, 0, 9, true, false},
		{"bytes=3-", 10, 3, 9, true, false},
		{"bytes=-3", 10, 7, 9, true, false},
		{"bytes=-30", 10, 0, 9, true, false},
		{"bytes=10-", 10, 0, 0, false, true},
		{"bytes=-0", 10, 0, 0, false, true},
		{"bytes=0-", 0, 0, 0, false, true},
		{"bytes=5-3", 10, 0, 0, false, false}, // malformed: ignored
		{"bytes=0-1,3-4", 10, 0, 0, false, false},
		{"items=0-1", 10, 0, 0, false, false},
		{"bytes=a-b", 10, 0, 0, false, false},
		{"bytes=+1-2", 10, 0, 0, false, false},
		{"", 10, 0, 0, false, false},
	}
	for _, c := range cases {
		r, ok, err := parseRange(c.header, c.size)
		if ok != c.ok || (err != nil) != c.invalid || ok && (r.first != c.first || r.last != c.last) {
			t.Errorf("parseRange(%q, %d) = %+v %v %v", c.header, c.size, r, ok, err)
		}
	}
}

// TestUnknownSubresource checks that an unsupported ?subresource is
// refused, not mistaken for the plain operation (a PUT ?versioning must
// not create a bucket or overwrite an object).
func TestUnknownSubresource(t *testing.T) {
	_, url := startServer(t, Options{})
	for _, target := range []string{"/b?versioning", "/b/k?tagging", "/b?policy"} {
		req := must(http.NewRequest(http.MethodPut, url+target, strings.NewReader("<x/>")))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), "NotImplemented") {
			t.Errorf("PUT %s: %d %s, want 501 NotImplemented", target, resp.StatusCode, body)
		}
	}
}

func TestAuthParsing(t *testing.T) {
	_, url := startServer(t, Options{})
	cases := map[string]string{
		"":                      "", // anonymous
		"AWS AKID:c2lnbmF0dXJl": "",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00": "",
		"AWS4-HMAC-SHA256 Credential=AKID/2026/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00":     "AuthorizationHeaderMalformed",
		"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/s3/aws4_request":                                   "AuthorizationHeaderMalformed",
		"Bearer token": "InvalidArgument",
	}
	for header, code := range cases {
		req := must(http.NewRequest(http.MethodGet, url+"/", nil))
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp := must(http.DefaultClient.Do(req))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if code == "" && resp.StatusCode != http.StatusOK || code != "" && !strings.Contains(string(body), "<Code>"+code+"</Code>") {
			t.Errorf("Authorization %q: %d %s, want %q", header, resp.StatusCode, body, code)
		}
	}
	presigned := url + "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host"
	if resp := must(http.Get(presigned)); resp.StatusCode != http.StatusOK {
		t.Errorf("presigned URL: %d", resp.StatusCode)
	}
}
