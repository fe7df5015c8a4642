package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Reader yields the records of a dataset in file order.
//
// Next returns the next record. A *LineError reports a bad record; the
// caller may go on reading. io.EOF ends the dataset; any other error (a
// failed read) is fatal.
type Reader interface {
	Next() (Record, error)
}

// MaxLineBytes bounds one JSONL line, so a file without newlines cannot
// exhaust memory.
const MaxLineBytes = 64 << 20

// JSONLReader reads one JSON object per line. Blank lines are skipped; a
// UTF-8 byte order mark at the start is ignored.
type JSONLReader struct {
	r       *bufio.Reader
	name    string
	line    int
	maxLine int // MaxLineBytes; smaller in tests
}

// NewJSONLReader reads JSONL from r; name is used in errors.
func NewJSONLReader(r io.Reader, name string) *JSONLReader {
	return &JSONLReader{r: bufio.NewReaderSize(r, 1<<16), name: name, maxLine: MaxLineBytes}
}

// Next implements Reader.
func (j *JSONLReader) Next() (Record, error) {
	for {
		line, err := j.readLine()
		if errors.Is(err, errLineTooLong) {
			j.line++
			return Record{}, &LineError{File: j.name, Line: j.line, Kind: KindTooLong, Err: fmt.Errorf("line longer than %d bytes", j.maxLine)}
		}
		if err != nil {
			return Record{}, err
		}
		j.line++
		if j.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\ufeff"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := decodeJSONRecord(line)
		if err != nil {
			return Record{}, atLine(err, j.name, j.line)
		}
		rec.File, rec.Line = j.name, j.line
		return rec, nil
	}
}

// errLineTooLong reports a line over MaxLineBytes; the reader skips it.
var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its end-of-line bytes, io.EOF
// after the last one. A line over MaxLineBytes is read to its end and
// dropped, giving errLineTooLong.
func (j *JSONLReader) readLine() ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := j.r.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) > j.maxLine {
			tooLong, buf = true, nil
		}
		if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case tooLong && (err == nil || errors.Is(err, io.EOF)):
			return nil, errLineTooLong
		case err == nil:
			return bytes.TrimRight(buf, "\r\n"), nil
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return bytes.TrimRight(buf, "\r"), nil
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("%s:%d: %w", j.name, j.line+1, err)
		}
	}
}

func decodeJSONRecord(line []byte) (Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Record{}, ferr("", KindBadJSON, "bad JSON at byte %d: %v", se.Offset, err)
		}
		if jsonType(line) != "an object" {
			return Record{}, ferr("", KindBadJSON, "want a JSON object, got %s", jsonType(line))
		}
		return Record{}, ferr("", KindBadJSON, "bad JSON: %v", err)
	}
	if obj == nil {
		return Record{}, ferr("", KindBadJSON, "want a JSON object, got null")
	}
	return parseRecord(obj)
}

// csvColumns are the header names CSV files may use; other columns are
// ignored.
var csvColumns = map[string]bool{
	"text": true, "prompt": true, "completion": true, "instruction": true,
	"input": true, "output": true, "label": true,
}

// CSVReader reads a CSV file whose header names the fields (text, prompt,
// completion, instruction, input, output, label); each row is one record,
// its cells strings.
type CSVReader struct {
	r    *csv.Reader
	name string
	cols []string // header names, "" for ignored columns
}

// NewCSVReader reads the header of a CSV file; name is used in errors.
func NewCSVReader(r io.Reader, name string) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked per row, as a record error
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty CSV file: want a header line", name)
		}
		return nil, fmt.Errorf("%s:1: CSV header: %w", name, err)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	known := 0
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !csvColumns[h] {
			continue
		}
		if seen[h] {
			return nil, fmt.Errorf("%s:1: CSV header: column %q appears twice", name, h)
		}
		seen[h] = true
		cols[i] = h
		known++
	}
	if known == 0 {
		return nil, fmt.Errorf("%s:1: CSV header names none of text, prompt, completion, instruction, input, output, label", name)
	}
	return &CSVReader{r: cr, name: name, cols: cols}, nil
}

// Next implements Reader.
func (c *CSVReader) Next() (Record, error) {
	for {
		row, err := c.r.Read()
		if errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return Record{}, &LineError{File: c.name, Line: pe.StartLine, Kind: KindBadJSON, Err: fmt.Errorf("bad CSV: %w", pe.Err)}
		}
		if err != nil {
			return Record{}, fmt.Errorf("%s: %w", c.name, err)
		}
		line, _ := c.r.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue // blank line
		}
		if len(row) != len(c.cols) {
			return Record{}, &LineError{File: c.name, Line: line, Kind: KindBadJSON,
				Err: fmt.Errorf("bad CSV: %d cells, header has %d columns", len(row), len(c.cols))}
		}
		obj := map[string]json.RawMessage{}
		for i, col := range c.cols {
			if col == "" {
				continue
			}
			cell, _ := json.Marshal(row[i])
			obj[col] = cell
		}
		rec, err := parseRecord(obj)
		if err != nil {
			return Record{}, atLine(err, c.name, line)
		}
		rec.File, rec.Line = c.name, line
		return rec, nil
	}
}

// OpenFile opens a dataset file, choosing the reader by extension: .csv
// is CSV, anything else (.jsonl, .json, .txt) JSONL. Close the returned
// closer when done.
func OpenFile(path string) (Reader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		r, err := NewCSVReader(f, path)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("data: %w", err)
		}
		return r, f, nil
	}
	return NewJSONLReader(f, path), f, nil
}
