package runs

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"strings"
	"time"
)

// Run states recorded in the manifest.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Trigger records what started a run.
type Trigger struct {
	Source        string `json:"source"` // s3, schedule or manual
	Bucket        string `json:"bucket,omitempty"`
	ScheduledTime string `json:"scheduled_time,omitempty"`
	Execution     string `json:"execution,omitempty"`
}

// Manifest is runs/<runId>/manifest.json: created once when a run is
// claimed, updated only with If-Match.
type Manifest struct {
	RunID       string    `json:"run_id"`
	CreatedAt   time.Time `json:"created_at"`
	Trigger     Trigger   `json:"trigger"`
	Dataset     string    `json:"dataset"`
	DatasetETag string    `json:"dataset_etag"`
	BaseETag    string    `json:"base_model_etag"`
	Config      Config    `json:"config"`
	State       string    `json:"state"`
	Failure     *Failure  `json:"failure,omitempty"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	Adapter     string    `json:"adapter,omitempty"` // where promote put it
}

// Failure is why a run failed; Reasons carries file:line messages of bad
// data.
type Failure struct {
	Error   string   `json:"error"`
	Cause   string   `json:"cause"`
	Reasons []string `json:"reasons,omitempty"`
}

// Status is runs/<runId>/status.json, rewritten by every training chunk.
type Status struct {
	RunID      string   `json:"run_id"`
	Step       int      `json:"step"`
	TotalSteps int      `json:"total_steps"`
	Loss       float64  `json:"loss"`
	ValLoss    *float64 `json:"val_loss,omitempty"`
	Tokens     int64    `json:"tokens"`
	Chunks     int      `json:"chunks"`
	Done       bool     `json:"done"`
	// CheckpointSeconds is how long the last checkpoint took to write; the
	// next chunk keeps at least twice that free before its deadline.
	CheckpointSeconds float64 `json:"checkpoint_seconds"`
	// StepSeconds is the longest optimizer step seen, so a chunk does not
	// start a step that cannot end before its deadline.
	StepSeconds float64 `json:"step_seconds"`
	// TrainSeconds is the wall time of all chunks, for the cost estimate.
	TrainSeconds float64   `json:"train_seconds"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ID derives a run id from what determines the run's result: the dataset
// (key and ETag), the base model (its ETag) and the configuration. The same
// content always gives the same id, so duplicate triggers meet at one
// manifest. It is 26 lowercase base32 characters, valid in execution names.
func ID(dataset, datasetETag, baseETag string, cfg Config) string {
	c, _ := json.Marshal(cfg)
	h := sha256.New()
	for _, part := range [][]byte{[]byte(dataset), []byte(datasetETag), []byte(baseETag), c} {
		h.Write([]byte{byte(len(part) >> 24), byte(len(part) >> 16), byte(len(part) >> 8), byte(len(part))})
		h.Write(part)
	}
	sum := h.Sum(nil)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum)[:26])
}

// Verdict is the evaluation's summary that the quality gate routes on and
// promote records.
type Verdict struct {
	Pass        bool     `json:"pass"`
	Reasons     []string `json:"reasons"` // why it passed or failed, one line per check
	ValLoss     float64  `json:"valLoss"`
	BaseValLoss float64  `json:"baseValLoss"`
	// Forgetting is the relative perplexity change on the general set.
	Forgetting *float64 `json:"forgetting,omitempty"`
	Report     string   `json:"report"` // key prefix of the report
}

// CurrentPointer is adapters/<name>/CURRENT.json.
type CurrentPointer struct {
	Version    string    `json:"version"`
	Path       string    `json:"path"`
	RunID      string    `json:"run_id"`
	BaseModel  string    `json:"base_model"`
	BaseETag   string    `json:"base_model_etag"`
	ValLoss    float64   `json:"val_loss"`
	PromotedAt time.Time `json:"promoted_at"`
}
