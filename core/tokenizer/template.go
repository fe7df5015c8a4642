package tokenizer

import (
	"encoding/json"
	"fmt"
)

// templateItemJSON is one item of a TemplateProcessing template:
// {"SpecialToken": {"id": "<s>", "type_id": 0}} or
// {"Sequence": {"id": "A", "type_id": 0}}.
type templateItemJSON struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

// parseTemplate reads TemplateProcessing's "single" template; pair
// templates are not used by Encode.
func parseTemplate(c componentJSON, path string) (templatePost, error) {
	var items []templateItemJSON
	if err := json.Unmarshal(c.Single, &items); err != nil {
		return nil, fmt.Errorf("%s.single: want a list of SpecialToken/Sequence items: %w", path, err)
	}
	var t templatePost
	for i, it := range items {
		switch {
		case it.Sequence != nil:
			if it.Sequence.ID != "A" {
				return nil, fmt.Errorf("%s.single[%d]: sequence %q in a single-sequence template", path, i, it.Sequence.ID)
			}
			t = append(t, templatePiece{sequence: true})
		case it.SpecialToken != nil:
			st, ok := c.SpecialTokens[it.SpecialToken.ID]
			if !ok {
				return nil, fmt.Errorf("%s.single[%d]: special token %q missing from special_tokens", path, i, it.SpecialToken.ID)
			}
			t = append(t, templatePiece{ids: st.IDs})
		default:
			return nil, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", path, i)
		}
	}
	return t, nil
}
