package statemachine

import _ "embed"

// TuneDefinition is tune.asl.json, lorafn's workflow, with its
// ${Substitutions} still in place (see README.md).
//
//go:embed tune.asl.json
var TuneDefinition []byte
