// Package examples holds lorafn's ready-to-run example: a small base model
// that lorafn trained from scratch on public-domain text (base/), a
// spam/ham classification task with its run configuration (spam/), and a
// held-out general text set for measuring forgetting (general/). The
// recipe/ folder rebuilds all of them (make example-data, make
// example-model).
package examples

import "embed"

// FS holds base/, spam/ and general/ as they are laid out on disk, so the
// CLI can run the example with no files beside it.
//
//go:embed base spam general
var FS embed.FS
