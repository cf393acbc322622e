package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// progress is --quiet, the flag of every command that reports progress.
type progress struct{ quiet bool }

func (p *progress) register(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&p.quiet, "quiet", "q", false, "print errors only")
}

// log is where progress lines go: standard error, or nowhere with --quiet.
func (p *progress) log(cmd *cobra.Command) io.Writer {
	if p.quiet {
		return nil
	}
	return cmd.ErrOrStderr()
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (reproducible-builds.org), the one
// date of everything the build, bundle and iso commands write.
func sourceDateEpoch() (*time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return nil, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, &hinted{fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number", v), "set it to seconds since 1970, e.g. $(git log -1 --format=%ct)"}
	}
	t := time.Unix(sec, 0).UTC()
	return &t, nil
}
