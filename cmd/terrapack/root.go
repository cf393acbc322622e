package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "terrapack",
		Short:         "Make self-extracting, relocatable Linux installers and ISO images",
		Version:       builderVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newBuildCmd(), newInspectCmd(), newISOCmd(), newVerifyCmd(), newBundleCmd(), newTestVMCmd())
	return root
}
