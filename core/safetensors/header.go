package safetensors

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

const metadataKey = "__metadata__"

// jsonReader walks JSON tokens. encoding/json's Unmarshal silently keeps the
// last of duplicate keys, ignores unknown fields and lets null stand for ""; the
// format forbids all three, so headers are read token by token.
type jsonReader struct{ dec *json.Decoder }

func newJSONReader(data []byte) jsonReader {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep integers exact and reject fractions ourselves
	return jsonReader{dec}
}

// next reads a token that must have type T.
func next[T json.Token](j jsonReader, what string) (T, error) {
	tok, err := j.dec.Token()
	if err == io.EOF {
		err = errors.New("unexpected end of JSON") // EOF is only fine in end
	}
	v, ok := tok.(T)
	if err == nil && !ok {
		err = fmt.Errorf("want %s, got %s", what, describe(tok))
	}
	return v, err
}

func (j jsonReader) expect(want json.Delim, what string) error {
	d, err := next[json.Delim](j, what)
	if err == nil && d != want {
		err = fmt.Errorf("want %s, got %s", what, describe(d))
	}
	return err
}

// object reads a JSON object, calling fn to consume each key's value and
// rejecting duplicate keys.
func (j jsonReader) object(fn func(key string) error) error {
	if err := j.expect('{', "object"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for j.dec.More() {
		key, err := next[string](j, "key")
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := fn(key); err != nil {
			return err
		}
	}
	return j.expect('}', "end of object")
}

// array reads a JSON array, calling fn to consume each element.
func (j jsonReader) array(fn func() error) error {
	if err := j.expect('[', "array"); err != nil {
		return err
	}
	for j.dec.More() {
		if err := fn(); err != nil {
			return err
		}
	}
	return j.expect(']', "end of array")
}

func (j jsonReader) str() (string, error) { return next[string](j, "string") }

// int reads a non-negative integer that fits in an int64.
func (j jsonReader) int() (int64, error) {
	num, err := next[json.Number](j, "integer")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a 64-bit integer", num)
	}
	if v < 0 {
		return 0, fmt.Errorf("%s is negative", num)
	}
	return v, nil
}

// end checks that only whitespace follows the top-level value.
func (j jsonReader) end() error {
	if tok, err := j.dec.Token(); err != io.EOF {
		return cmp.Or(err, fmt.Errorf("unexpected %s after the top-level object", describe(tok)))
	}
	return nil
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		return strconv.Quote(t.String())
	case string:
		return "string " + strconv.Quote(t)
	case json.Number:
		return "number " + string(t)
	}
	return fmt.Sprint(tok)
}

// parseHeader parses and validates a header for a data section of dataSize
// bytes, returning the metadata and the tensors sorted by offset.
func parseHeader(header []byte, dataSize int64) (map[string]string, []TensorInfo, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("header does not start with '{'")
	}
	var meta map[string]string
	var infos []TensorInfo
	j := newJSONReader(header)
	err := j.object(func(key string) error {
		if key == metadataKey {
			m, err := j.metadata()
			if err != nil {
				return fmt.Errorf("%s: %w", metadataKey, err)
			}
			meta = m
			return nil
		}
		t, err := j.tensor(key, dataSize)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", key, err)
		}
		infos = append(infos, t)
		return nil
	})
	if err == nil {
		err = j.end()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	// Zero-size tensors sort before others at the same offset, names break ties.
	slices.SortFunc(infos, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), cmp.Compare(a.Name, b.Name))
	})
	var next int64
	for _, t := range infos {
		if t.Begin != next {
			what := "a gap before"
			if t.Begin < next {
				what = "an overlap at"
			}
			return nil, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d]: %s offset %d", t.Name, t.Begin, t.End, what, next)
		}
		next = t.End
	}
	if next != dataSize {
		return nil, nil, fmt.Errorf("tensors cover %d bytes but the data section is %d bytes", next, dataSize)
	}
	return meta, infos, nil
}

// metadata reads the "__metadata__" object, whose values must be strings.
func (j jsonReader) metadata() (map[string]string, error) {
	meta := map[string]string{}
	err := j.object(func(key string) error {
		v, err := j.str()
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		meta[key] = v
		return nil
	})
	return meta, err
}

// tensor reads one tensor entry and checks its span against shape and dtype.
func (j jsonReader) tensor(name string, dataSize int64) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	var offsets []int64
	var haveDType, haveShape bool
	err := j.object(func(key string) error {
		var err error
		switch key {
		case "dtype":
			var s string
			s, err = j.str()
			t.DType, haveDType = DType(s), true
		case "shape":
			t.Shape, haveShape = []int{}, true
			err = j.array(func() error {
				d, err := j.int()
				if err == nil && int64(int(d)) != d {
					err = fmt.Errorf("dimension %d overflows int", d)
				}
				t.Shape = append(t.Shape, int(d))
				return err
			})
		case "data_offsets":
			offsets = []int64{}
			err = j.array(func() error {
				v, err := j.int()
				if err == nil && v > dataSize {
					err = fmt.Errorf("%d is beyond the %d-byte data section", v, dataSize)
				}
				offsets = append(offsets, v)
				return err
			})
			if err == nil && len(offsets) != 2 {
				err = fmt.Errorf("want [begin, end], got %d values", len(offsets))
			}
		default:
			return fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return t, err
	case !haveDType:
		return t, errors.New("missing dtype")
	case !haveShape:
		return t, errors.New("missing shape")
	case offsets == nil:
		return t, errors.New("missing data_offsets")
	}
	n, err := numBytes(t.DType, t.Shape)
	if err != nil {
		return t, err
	}
	t.Begin, t.End = offsets[0], offsets[1]
	if t.Begin > t.End {
		return t, fmt.Errorf("data_offsets [%d, %d] end before they begin", t.Begin, t.End)
	}
	if n != t.End-t.Begin {
		return t, fmt.Errorf("shape %v of %s needs %d bytes, data_offsets [%d, %d] hold %d", t.Shape, t.DType, n, t.Begin, t.End, t.End-t.Begin)
	}
	return t, nil
}
