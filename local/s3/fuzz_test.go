package s3

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// encodeChunked frames data as aws-chunked with chunks of size bytes
// (the last may be shorter) and, if trailer is set, a CRC32 trailer.
func encodeChunked(data []byte, size int, trailer string) []byte {
	var b bytes.Buffer
	for len(data) > 0 {
		n := min(size, len(data))
		fmt.Fprintf(&b, "%x;chunk-signature=%064d\r\n", n, 0)
		b.Write(data[:n])
		b.WriteString("\r\n")
		data = data[n:]
	}
	b.WriteString("0\r\n")
	if trailer != "" {
		b.WriteString(trailer + "\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// FuzzChunkedDecode feeds arbitrary bodies to the aws-chunked decoder. It
// must never panic or return more bytes than the body holds, and whatever
// it decodes must survive re-encoding.
func FuzzChunkedDecode(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("3;chunk-signature=ab\r\nabc\r\n0;chunk-signature=cd\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"))
	f.Add([]byte("0\r\nx-amz-checksum-sha256:abc\r\nx-amz-trailer-signature:00\r\n"))
	f.Add([]byte("ffffffffffffffff\r\n"))
	f.Add([]byte("5\r\nhel"))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := newChunkedReader(bytes.NewReader(body))
		got, err := io.ReadAll(c)
		if len(got) > len(body) {
			t.Fatalf("decoded %d bytes from a %d-byte body", len(got), len(body))
		}
		if err != nil {
			return
		}
		again, err := io.ReadAll(newChunkedReader(bytes.NewReader(encodeChunked(got, 7, ""))))
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("re-encoded body decodes to %q, %v; want %q", again, err, got)
		}
	})
}

// FuzzChunkedRoundTrip checks decode(encode(data)) == data for any data,
// chunk size and trailer, and that the trailer is recovered.
func FuzzChunkedRoundTrip(f *testing.F) {
	f.Add([]byte("hello, world"), 4, true)
	f.Add([]byte{}, 1, false)
	f.Add(bytes.Repeat([]byte{0xff}, 100), 100, true)
	f.Fuzz(func(t *testing.T, data []byte, size int, trailer bool) {
		if size <= 0 || size > 1<<20 {
			return
		}
		tr := ""
		if trailer {
			tr = "x-amz-checksum-crc32:" + crc32b64(string(data))
		}
		c := newChunkedReader(bytes.NewReader(encodeChunked(data, size, tr)))
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes in %d-byte chunks: %d bytes, %v", len(data), size, len(got), err)
		}
		if trailer && c.trailers["x-amz-checksum-crc32"] != crc32b64(string(data)) {
			t.Fatalf("trailer lost: %v", c.trailers)
		}
	})
}

// FuzzParseRange checks that any Range header yields either no range, an
// InvalidRange error, or a range inside the object.
func FuzzParseRange(f *testing.F) {
	for _, h := range []string{"bytes=0-1", "bytes=-5", "bytes=5-", "bytes=9999999999999999999-", "bytes=--1", "bytes=1-0", "bytes= 1 - 2 "} {
		f.Add(h, int64(10))
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return
		}
		r, ok, err := parseRange(header, size)
		if ok && err != nil {
			t.Fatal("both a range and an error")
		}
		if ok && (r.first < 0 || r.first > r.last || r.last >= size) {
			t.Fatalf("parseRange(%q, %d) = %+v, outside the object", header, size, r)
		}
	})
}

// FuzzParseCompleteMultipartUpload checks the CompleteMultipartUpload body
// parser: no panics, and an accepted list is non-empty, in range and
// strictly ascending.
func FuzzParseCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>"x"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<Other/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseCompleteRequest(body)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		if len(req.Parts) == 0 {
			t.Fatal("accepted an empty part list")
		}
		for i, p := range req.Parts {
			if p.PartNumber < 1 || p.PartNumber > maxPartNumber || i > 0 && p.PartNumber <= req.Parts[i-1].PartNumber {
				t.Fatalf("accepted part list %+v", req.Parts)
			}
		}
	})
}

// FuzzParseDeleteObjects checks the DeleteObjects body parser.
func FuzzParseDeleteObjects(f *testing.F) {
	f.Add([]byte(`<Delete><Object><Key>a</Key></Object><Quiet>true</Quiet></Delete>`))
	f.Add([]byte(`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key><VersionId>1</VersionId></Object></Delete>`))
	f.Add([]byte(`<Delete></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseDeleteRequest(body)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		if len(req.Objects) < 1 || len(req.Objects) > 1000 {
			t.Fatalf("accepted %d objects", len(req.Objects))
		}
	})
}

// FuzzServer sends arbitrary requests to a server holding one object and
// checks that it never panics, answers with a real status, serves XML
// errors, and keeps every stored object's size equal to its content.
func FuzzServer(f *testing.F) {
	f.Add("PUT", "/b/k", "", "", []byte("data"))
	f.Add("GET", "/b/obj", "", "Range: bytes=0-1", []byte{})
	f.Add("PUT", "/b/k2", "", "X-Amz-Copy-Source: /b/obj%ZZ", []byte{})
	f.Add("POST", "/b", "delete", "", []byte(`<Delete><Object><Key>obj</Key></Object></Delete>`))
	f.Add("POST", "/b/k", "uploads", "", []byte{})
	f.Add("PUT", "/b/k", "", "Content-Encoding: aws-chunked\nX-Amz-Trailer: x-amz-checksum-crc32", []byte("3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"))
	f.Add("GET", "/b", "list-type=2&max-keys=1&continuation-token=%%", "", []byte{})
	f.Add("PUT", "/b/obj", "", "If-Match: *", []byte("x"))
	f.Fuzz(func(t *testing.T, method, path, query, headers string, body []byte) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n?#") || strings.ContainsAny(query, " \r\n#") {
			return
		}
		srv, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv.buckets["b"] = &bucket{name: "b", created: srv.now(), objects: map[string]*object{}}
		seed := httptest.NewRequest("PUT", "/b/obj", strings.NewReader("seed content"))
		srv.ServeHTTP(httptest.NewRecorder(), seed)

		req, err := http.NewRequest(method, "http://127.0.0.1"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return
		}
		for _, line := range strings.Split(headers, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && k != "" && !strings.ContainsAny(k, " \r\t") {
				req.Header.Add(k, strings.TrimSpace(v))
			}
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code >= 400 && method != http.MethodHead && !strings.Contains(rec.Body.String(), "<Error>") {
			t.Fatalf("status %d without an XML error: %q", rec.Code, rec.Body.String())
		}
		for _, b := range srv.buckets {
			for k, o := range b.objects {
				r, err := srv.store.open(b.name, o.Blob)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, r)
				if n != o.Size || o.Key != k {
					t.Fatalf("object %q: size %d, content %d bytes", k, o.Size, n)
				}
			}
		}
	})
}

// FuzzParseAuth checks the Authorization parser: no panics, and an
// accepted SigV4 header yields the access key it names.
func FuzzParseAuth(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc")
	f.Add("AWS AKID:c2ln")
	f.Add("Bearer x")
	f.Add("AWS4-HMAC-SHA256 Credential=/x")
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", header)
		c, err := parseAuth(r)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("error %v is not an S3 error", err)
			}
			return
		}
		if strings.HasPrefix(header, "AWS4-HMAC-SHA256 ") && (c.accessKey == "" || c.region == "") {
			t.Fatalf("accepted %q without a key and region", header)
		}
	})
}
