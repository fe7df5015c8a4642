package s3

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// aws-chunked is the framing the SDKs use to stream a body whose checksum
// (or per-chunk signature) is only known at the end:
//
//	<hex size>[;chunk-signature=<sig>]\r\n<size bytes>\r\n   (repeated)
//	0[;chunk-signature=<sig>]\r\n
//	[<trailer name>:<value>\r\n]...                          (TRAILER variants)
//	\r\n
//
// Signatures are not verified (see the package doc); trailers are kept so
// the checksum they carry can be checked against the decoded bytes.

// maxChunkLine bounds a chunk header or trailer line, so a hostile body
// cannot make the decoder buffer without limit.
const maxChunkLine = 4096

// errChunked marks a malformed aws-chunked body.
var errChunked = errors.New("malformed aws-chunked body")

// chunkedReader decodes an aws-chunked body.
type chunkedReader struct {
	r        *bufio.Reader
	left     int64 // bytes still to read in the current chunk
	done     bool  // the zero-size chunk and its trailers have been read
	err      error
	trailers map[string]string // lower-case names
}

func newChunkedReader(r io.Reader) *chunkedReader {
	return &chunkedReader{r: bufio.NewReaderSize(r, 64<<10), trailers: map[string]string{}}
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if err == io.EOF {
		err = fmt.Errorf("%w: body ends inside a chunk", errChunked)
	}
	if err == nil && c.left == 0 {
		err = c.expectCRLF()
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// nextChunk reads a chunk header; for the final chunk it also reads the
// trailers and the closing empty line.
func (c *chunkedReader) nextChunk() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	sizeText, _, _ := strings.Cut(line, ";")
	sizeText = strings.TrimSpace(sizeText)
	if sizeText == "" || len(sizeText) > 16 {
		return fmt.Errorf("%w: chunk size %q", errChunked, sizeText)
	}
	size, err := strconv.ParseInt(sizeText, 16, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("%w: chunk size %q", errChunked, sizeText)
	}
	if size > 0 {
		c.left = size
		return nil
	}
	// Final chunk: trailers until an empty line. Some clients end the body
	// right after the last trailer; accept that too.
	for {
		line, err := c.line()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%w: trailer %q", errChunked, line)
		}
		c.trailers[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	c.done = true
	return nil
}

// line reads one CRLF-terminated line without the CRLF. io.EOF means the
// body ended cleanly before the line began.
func (c *chunkedReader) line() (string, error) {
	var buf []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > maxChunkLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", errChunked, maxChunkLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if len(buf) == 0 {
				return "", io.EOF
			}
			return "", fmt.Errorf("%w: body ends inside a line", errChunked)
		}
		if err != nil {
			return "", err
		}
		break
	}
	if !bytes.HasSuffix(buf, []byte("\r\n")) {
		return "", fmt.Errorf("%w: line not ended by CRLF", errChunked)
	}
	return string(buf[:len(buf)-2]), nil
}

func (c *chunkedReader) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.r, crlf[:]); err != nil || crlf != [2]byte{'\r', '\n'} {
		return fmt.Errorf("%w: chunk data not followed by CRLF", errChunked)
	}
	return nil
}
