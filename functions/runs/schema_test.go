package runs

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const schemaFile = "../../docs/run-config.schema.json"

// TestSchemaFileIsCurrent keeps docs/run-config.schema.json equal to the
// schema of the code. Regenerate with LORAFN_WRITE_SCHEMA=1 go test.
func TestSchemaFileIsCurrent(t *testing.T) {
	s, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if os.Getenv("LORAFN_WRITE_SCHEMA") != "" {
		os.MkdirAll(filepath.Dir(schemaFile), 0o755)
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run LORAFN_WRITE_SCHEMA=1 go test ./functions/runs", schemaFile)
	}
}

func TestSchemaNeedsDescriptions(t *testing.T) {
	delete(descriptions, "gate.max_forgetting")
	defer func() { descriptions["gate.max_forgetting"] = "restored" }()
	if _, err := Schema(); err == nil {
		t.Fatal("a field without a description was accepted")
	}
}

func TestDefaultsValidateOnceNamed(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil {
		t.Fatal("a config without name and base_model validated")
	}
	c.Name, c.BaseModel = "spam", "models/tiny/"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	err := c.Merge("lorafn.json", []byte(`{"training": {"learning_rat": 1}}`))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("learning_rat")) {
		t.Fatalf("unknown field: %v", err)
	}
	if err := c.Merge("lorafn.json", []byte(`{"training": {"learning_rate": 0.5}, "gate": {"max_forgetting": 0.2}}`)); err != nil {
		t.Fatal(err)
	}
	if c.Training.LR != 0.5 || c.Gate.MaxForgetting != 0.2 || c.Training.BatchSize != DefaultConfig().Training.BatchSize || c.Gate.MinImprovement != 0.01 {
		t.Fatalf("merge replaced the wrong fields: %+v", c)
	}
}

func TestRunIDIsContentBased(t *testing.T) {
	c := DefaultConfig()
	a := ID("datasets/x/a.jsonl", `"e1"`, "b", c)
	if len(a) != 26 || a != ID("datasets/x/a.jsonl", `"e1"`, "b", c) {
		t.Fatalf("id %q: not 26 characters or not stable", a)
	}
	c2 := c
	c2.Training.Seed++
	for _, other := range []string{ID("datasets/x/a.jsonl", `"e2"`, "b", c), ID("datasets/x/b.jsonl", `"e1"`, "b", c), ID("datasets/x/a.jsonl", `"e1"`, "c", c), ID("datasets/x/a.jsonl", `"e1"`, "b", c2)} {
		if other == a {
			t.Fatal("a change of dataset, ETag, base or config kept the run id")
		}
	}
}
