package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/payload"
)

func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect INSTALLER.run",
		Short: "Describe an installer: name, version, sizes, layout, checksum",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInstaller(args[0])
			if err != nil {
				return err
			}
			in.WriteInfo(cmd.OutOrStdout())
			return nil
		},
	}
}

// openInstaller opens path for the rest of the process's life.
func openInstaller(path string) (*payload.Installer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to open %q: %w", path, err)
	}
	in, err := payload.OpenFile(f, nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return in, nil
}
