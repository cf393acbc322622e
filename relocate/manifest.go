package relocate

import (
	"encoding/json"

	"github.com/terrapack/terrapack/payload"
)

// ManifestPlan decodes the relocation plan an installer's manifest carries
// (opaque to payload); nil, nil when nothing is relocated.
func ManifestPlan(m *payload.Manifest) (*Plan, error) {
	if len(m.Relocation) == 0 {
		return nil, nil
	}
	var p Plan
	if err := json.Unmarshal(m.Relocation, &p); err != nil {
		return nil, payload.Malformed("manifest relocation", "unreadable plan: %v", err)
	}
	return &p, nil
}
