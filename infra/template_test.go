// Package infra holds lorafn's AWS SAM template. These tests check what
// cfn-lint cannot: that the template and the workflow definition agree, and
// that no role can write where uploads trigger runs.
package infra

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lorafn/lorafn/functions/workflow"
)

// node looks up a path of mapping keys.
func node(n *yaml.Node, keys ...string) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func keys(n *yaml.Node) []string {
	var ks []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			ks = append(ks, n.Content[i].Value)
		}
	}
	sort.Strings(ks)
	return ks
}

func loadTemplate(t *testing.T, data []byte) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return &doc
}

func readTemplate(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var substitution = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func TestSubstitutionsMatchTheDefinition(t *testing.T) {
	doc := loadTemplate(t, readTemplate(t))
	sm := node(doc, "Resources", "TuneStateMachine", "Properties")
	uri := node(sm, "DefinitionUri")
	if uri == nil || uri.Value != "../statemachine/tune.asl.json" {
		t.Fatalf("DefinitionUri is %v, want ../statemachine/tune.asl.json", uri)
	}
	asl, err := os.ReadFile(filepath.FromSlash(uri.Value))
	if err != nil {
		t.Fatal(err)
	}
	var used []string
	for _, m := range substitution.FindAllStringSubmatch(string(asl), -1) {
		if !slices.Contains(used, m[1]) {
			used = append(used, m[1])
		}
	}
	sort.Strings(used)
	given := keys(node(sm, "DefinitionSubstitutions"))
	if len(used) == 0 || !slices.Equal(used, given) {
		t.Fatalf("the definition uses %v, the template substitutes %v", used, given)
	}
}

func TestOneFunctionPerStep(t *testing.T) {
	doc := loadTemplate(t, readTemplate(t))
	var handlers []string
	res := node(doc, "Resources")
	for _, name := range keys(res) {
		r := node(res, name)
		if node(r, "Type").Value != "AWS::Serverless::Function" {
			continue
		}
		h := node(r, "Properties", "Handler")
		if h == nil {
			t.Fatalf("%s has no Handler", name)
		}
		if code := node(r, "Properties", "CodeUri"); code == nil || code.Value != "../dist/lambda-arm64/bootstrap.zip" {
			t.Errorf("%s: CodeUri %v, want the arm64 bootstrap zip", name, code)
		}
		handlers = append(handlers, h.Value)
	}
	sort.Strings(handlers)
	steps := slices.Clone(workflow.Steps)
	sort.Strings(steps)
	if !slices.Equal(handlers, steps) {
		t.Fatalf("function handlers %v, want one per step %v", handlers, steps)
	}
}

// writeActions are S3 actions that create, change or remove objects.
var writeActions = regexp.MustCompile(`(?i)^s3:(\*|put\*?|putobject.*|delete\*?|deleteobject.*|restoreobject|\*object.*)$`)

// datasetWrites returns every Allow statement whose actions write objects
// and whose resources could cover a key under datasets/.
func datasetWrites(doc *yaml.Node) []string {
	var found []string
	var walk func(n *yaml.Node, where string)
	walk = func(n *yaml.Node, where string) {
		if n.Kind == yaml.MappingNode {
			if e := node(n, "Effect"); e != nil && e.Value == "Allow" {
				if writes(node(n, "Action")) {
					for _, r := range scalars(node(n, "Resource")) {
						if coversDatasets(r) {
							found = append(found, where+": "+r)
						}
					}
				}
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], where+"."+n.Content[i].Value)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, where)
		}
	}
	walk(doc, "")
	return found
}

func writes(action *yaml.Node) bool {
	for _, a := range scalars(action) {
		if a == "*" || writeActions.MatchString(a) {
			return true
		}
	}
	return false
}

// scalars flattens a value to its strings (a scalar, a list, or an
// intrinsic function's arguments).
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

// coversDatasets reports whether an object ARN pattern could match
// <bucket>/datasets/...: anything that is not "<bucket ARN>/" followed by a
// literal first folder other than datasets.
func coversDatasets(resource string) bool {
	if resource == "*" {
		return true
	}
	_, rest, ok := strings.Cut(resource, "${Bucket.Arn}/")
	if !ok {
		// Not an object ARN of the bucket: a bucket ARN or another service.
		return strings.Contains(resource, ":s3:::") && strings.Contains(resource, "*")
	}
	first, _, hasSlash := strings.Cut(rest, "/")
	return !hasSlash || strings.ContainsAny(first, "*?") || first == "datasets"
}

func TestNoRoleWritesUnderDatasets(t *testing.T) {
	doc := loadTemplate(t, readTemplate(t))
	if found := datasetWrites(doc); len(found) > 0 {
		t.Fatalf("statements allow writes under datasets/:\n%s", strings.Join(found, "\n"))
	}
	// The check sees such statements where they are.
	for _, bad := range []string{
		`{Effect: Allow, Action: s3:PutObject, Resource: !Sub "${Bucket.Arn}/datasets/*"}`,
		`{Effect: Allow, Action: [s3:GetObject, s3:DeleteObject], Resource: !Sub "${Bucket.Arn}/*"}`,
		`{Effect: Allow, Action: "s3:*", Resource: "*"}`,
	} {
		doc := loadTemplate(t, []byte("Resources:\n  R:\n    Properties:\n      Statement:\n        - "+bad+"\n"))
		if len(datasetWrites(doc)) != 1 {
			t.Errorf("not caught: %s", bad)
		}
	}
}

// TestCfnLint runs cfn-lint (with the SAM translator) on the template. It
// needs the cfn-lint program; CI provides it and fails without it.
func TestCfnLint(t *testing.T) {
	if _, err := exec.LookPath("cfn-lint"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cfn-lint is not installed (needed under CI)")
		}
		t.Skip("cfn-lint is not installed")
	}
	out, err := exec.CommandContext(t.Context(), "cfn-lint", "template.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint template.yaml: %v\n%s", err, out)
	}
	// The same run rejects a known defect, so a silent linter cannot pass.
	bad := strings.Replace(string(readTemplate(t)), "Runtime: provided.al2023", "Runtime: go1.x", 1)
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.CommandContext(t.Context(), "cfn-lint", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "E2533") {
		t.Fatalf("cfn-lint accepted the deprecated go1.x runtime: %v\n%s", err, out)
	}
}
