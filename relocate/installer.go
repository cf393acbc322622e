package relocate

import (
	"context"

	"github.com/terrapack/terrapack/payload"
)

// CheckInstaller verifies in as an install would, writing nothing: the
// checksum, every payload entry and link, the hook, and the relocation plan
// against the payload. Only what depends on the install path (its length
// against the plan's limits) is left to the install.
func CheckInstaller(ctx context.Context, in *payload.Installer) error {
	pl, err := ManifestPlan(in.Manifest)
	if err != nil || pl == nil {
		if err == nil {
			err = in.Check(ctx, nil)
		}
		return err
	}
	c, err := NewChecker(pl)
	if err != nil {
		return err
	}
	if err := in.Check(ctx, c); err != nil {
		return err
	}
	return c.CheckComplete()
}
