package s3

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// crc64NVME is the CRC-64/NVME polynomial in the reversed form hash/crc64
// expects; S3 calls the algorithm CRC64NVME.
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// checksumAlgorithms maps S3's flexible-checksum names to their hashes.
// Every value S3 exchanges is the base64 of the big-endian digest, which is
// what hash.Hash.Sum produces for all five.
var checksumAlgorithms = map[string]func() hash.Hash{
	"crc32":     func() hash.Hash { return crc32.NewIEEE() },
	"crc32c":    func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"crc64nvme": func() hash.Hash { return crc64.New(crc64NVME) },
	"sha1":      sha1.New,
	"sha256":    sha256.New,
}

// maxObjectSize is S3's limit for a single PutObject or UploadPart.
const maxObjectSize = 5 << 30

// payload is a request body on its way to storage: it undoes aws-chunked
// framing, counts bytes and computes every digest the request asks to be
// checked, so verify can reject the write before it is committed.
type payload struct {
	r   io.Reader
	n   int64
	md5 hash.Hash

	chunked    *chunkedReader // nil for a plain body
	decodedLen int64          // x-amz-decoded-content-length, -1 if absent

	contentMD5 string // Content-MD5 header (base64), if any

	sha256     hash.Hash // set when x-amz-content-sha256 is a hex digest
	sha256Want string

	sumAlg  string    // flexible checksum algorithm (lower case), if any
	sum     hash.Hash // its running hash
	sumWant string    // expected value from a header; empty if it comes in a trailer

	readErr error // why reading the body failed, if it did
}

// storeError turns a failure to store the payload into an S3 error: the
// client's fault (400) when reading its body failed, else the server's.
func (p *payload) storeError(err error) error {
	if p.readErr == nil {
		return errInternal(err)
	}
	if errors.Is(p.readErr, errChunked) {
		return errInvalidRequest(p.readErr.Error())
	}
	return &apiError{Status: http.StatusBadRequest, Code: "IncompleteBody", Message: "The request body could not be read: " + p.readErr.Error()}
}

// newPayload inspects the request headers and wraps its body.
func newPayload(r *http.Request) (*payload, *apiError) {
	p := &payload{r: r.Body, md5: md5.New(), decodedLen: -1, contentMD5: r.Header.Get("Content-MD5")}
	contentSHA := r.Header.Get("X-Amz-Content-Sha256")
	if strings.HasPrefix(contentSHA, "STREAMING-") || hasToken(r.Header.Get("Content-Encoding"), "aws-chunked") {
		p.chunked = newChunkedReader(r.Body)
		p.r = p.chunked
		if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, errInvalidArgument("x-amz-decoded-content-length is not a byte count: " + v)
			}
			p.decodedLen = n
		}
	} else if len(contentSHA) == 64 {
		if _, err := hex.DecodeString(contentSHA); err == nil {
			p.sha256, p.sha256Want = sha256.New(), strings.ToLower(contentSHA)
		}
	}
	if size := p.decodedLen; size > maxObjectSize || (p.chunked == nil && r.ContentLength > maxObjectSize) {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed object size."}
	}

	// A flexible checksum arrives either as a header or, announced by
	// x-amz-trailer, after the last chunk.
	for name := range checksumAlgorithms {
		if v := r.Header.Get("X-Amz-Checksum-" + name); v != "" {
			if p.sumAlg != "" {
				return nil, errInvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
			}
			p.sumAlg, p.sumWant = name, v
		}
	}
	if t := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer"))); t != "" {
		alg, ok := strings.CutPrefix(t, "x-amz-checksum-")
		if _, known := checksumAlgorithms[alg]; !ok || !known || p.chunked == nil {
			return nil, errInvalidRequest("unsupported x-amz-trailer: " + t)
		}
		if p.sumAlg != "" && p.sumAlg != alg {
			return nil, errInvalidRequest("x-amz-trailer and x-amz-checksum- header name different algorithms")
		}
		p.sumAlg = alg
	}
	if p.sumAlg == "" {
		if alg := strings.ToLower(r.Header.Get("X-Amz-Sdk-Checksum-Algorithm")); alg != "" {
			if _, ok := checksumAlgorithms[alg]; !ok {
				return nil, errInvalidRequest("unsupported x-amz-sdk-checksum-algorithm: " + alg)
			}
		}
	}
	if p.sumAlg != "" {
		p.sum = checksumAlgorithms[p.sumAlg]()
	}
	return p, nil
}

func (p *payload) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if err != nil && err != io.EOF {
		p.readErr = err
	}
	if n > 0 {
		p.n += int64(n)
		p.md5.Write(b[:n])
		if p.sha256 != nil {
			p.sha256.Write(b[:n])
		}
		if p.sum != nil {
			p.sum.Write(b[:n])
		}
	}
	if p.n > maxObjectSize {
		p.readErr = errors.New("body larger than 5 GiB")
		return n, p.readErr
	}
	return n, err
}

// verify checks, after the body was read to its end, every digest and
// length the request declared.
func (p *payload) verify() *apiError {
	if p.decodedLen >= 0 && p.n != p.decodedLen {
		return &apiError{Status: http.StatusBadRequest, Code: "IncompleteBody", Message: fmt.Sprintf("You did not provide the number of bytes specified by the x-amz-decoded-content-length header: got %d, want %d", p.n, p.decodedLen)}
	}
	if p.contentMD5 != "" {
		want, err := base64.StdEncoding.DecodeString(p.contentMD5)
		if err != nil || len(want) != md5.Size {
			return &apiError{Status: http.StatusBadRequest, Code: "InvalidDigest", Message: "The Content-MD5 you specified was invalid."}
		}
		if string(want) != string(p.md5.Sum(nil)) {
			return &apiError{Status: http.StatusBadRequest, Code: "BadDigest", Message: "The Content-MD5 you specified did not match what we received."}
		}
	}
	if p.sha256 != nil && hex.EncodeToString(p.sha256.Sum(nil)) != p.sha256Want {
		return &apiError{Status: http.StatusBadRequest, Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	if p.sum != nil {
		want := p.sumWant
		if p.chunked != nil {
			if v, ok := p.chunked.trailers["x-amz-checksum-"+p.sumAlg]; ok {
				want = v
			}
		}
		if want == "" {
			return errInvalidRequest("x-amz-checksum-" + p.sumAlg + " trailer missing")
		}
		if got := p.checksum(); got != want {
			return &apiError{Status: http.StatusBadRequest, Code: "BadDigest", Message: fmt.Sprintf("The %s you specified did not match the calculated checksum.", strings.ToUpper(p.sumAlg))}
		}
	}
	return nil
}

// checksum is the flexible checksum of the decoded body, base64 encoded, or
// "" when the request named none.
func (p *payload) checksum() string {
	if p.sum == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(p.sum.Sum(nil))
}

// hasToken reports whether the comma-separated header value lists token.
func hasToken(header, token string) bool {
	for _, t := range strings.Split(header, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}
