// Package runs is the workflow's shared vocabulary: the S3 layout of runs,
// reports and adapters, the run configuration with its defaults, the run
// manifest and status objects, and content-based run ids.
//
// Layout (every key the workflow writes is under runs/, reports/ or
// adapters/, never under datasets/, so no write can trigger a run):
//
//	datasets/<name>/...                     user uploads; a lorafn.json beside a dataset configures its runs
//	models/<name>/                          base models as Hugging Face folders
//	runs/<runId>/manifest.json              claimed once with If-None-Match; its status moves with If-Match
//	runs/<runId>/prep/                      shards, stats.json and plan.json written by prep
//	runs/<runId>/checkpoints/step-N/        one training checkpoint (immutable)
//	runs/<runId>/checkpoints/LATEST         pointer to the newest complete checkpoint
//	runs/<runId>/status.json                progress for humans and dashboards
//	runs/<runId>/result/                    the trained adapter (PEFT files) or model folder
//	runs/<runId>/train_log.jsonl/part-N     training log, one immutable part per chunk
//	reports/<runId>/                        report.json, report.md, loss.svg, cost.json
//	adapters/<name>/<version>/              promoted adapter (PEFT files) and its card
//	adapters/<name>/CURRENT.json            pointer to the promoted version, moved with If-Match
package runs

import (
	"fmt"
	"path"
	"strings"
)

// Lifecycle tags: the bucket's lifecycle rules expire objects by tag,
// since a rule's prefix cannot say runs/*/checkpoints/.
var (
	CheckpointTags = map[string]string{"lorafn:lifecycle": "checkpoint"}
	PrepTags       = map[string]string{"lorafn:lifecycle": "prep"}
)

// Key prefixes.
const (
	DatasetsPrefix = "datasets/"
	ModelsPrefix   = "models/"
	RunsPrefix     = "runs/"
	ReportsPrefix  = "reports/"
	AdaptersPrefix = "adapters/"
	// ConfigName is the run configuration found beside a dataset.
	ConfigName = "lorafn.json"
)

// Run returns the keys of one run.
type Run string

func (r Run) prefix() string             { return RunsPrefix + string(r) + "/" }
func (r Run) Manifest() string           { return r.prefix() + "manifest.json" }
func (r Run) Prep() string               { return r.prefix() + "prep/" }
func (r Run) Plan() string               { return r.Prep() + "plan.json" }
func (r Run) Checkpoints() string        { return r.prefix() + "checkpoints/" }
func (r Run) Latest() string             { return r.Checkpoints() + "LATEST" }
func (r Run) Status() string             { return r.prefix() + "status.json" }
func (r Run) Report() string             { return ReportsPrefix + string(r) + "/" }
func (r Run) Result() string             { return r.prefix() + "result/" }
func (r Run) Checkpoint(step int) string { return fmt.Sprintf("%sstep-%d/", r.Checkpoints(), step) }

// LogPart is the training log written by the chunk that started at step.
func (r Run) LogPart(step int) string {
	return fmt.Sprintf("%strain_log/part-%09d.jsonl", r.prefix(), step)
}

// AdapterVersion is the folder of a promoted adapter version.
func AdapterVersion(name, version string) string {
	return AdaptersPrefix + name + "/" + version + "/"
}

// Current is the pointer to the promoted version of a task's adapter.
func Current(name string) string { return AdaptersPrefix + name + "/CURRENT.json" }

// ConfigBeside returns the key of the configuration that sits in the same
// folder as the dataset key.
func ConfigBeside(dataset string) string { return path.Join(path.Dir(dataset), ConfigName) }

// CheckDatasetKey rejects keys that a run must not read: outside datasets/,
// with empty or dot segments, or with control characters.
func CheckDatasetKey(key string) error {
	if !strings.HasPrefix(key, DatasetsPrefix) {
		return fmt.Errorf("dataset key %q: must be under %s", key, DatasetsPrefix)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("dataset key %q: empty, . or .. segment", key)
		}
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("dataset key %q: control character", key)
		}
	}
	switch path.Ext(key) {
	case ".jsonl", ".json", ".csv":
	default:
		return fmt.Errorf("dataset key %q: want a .jsonl, .json or .csv file", key)
	}
	return nil
}
