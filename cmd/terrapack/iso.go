package main

import (
	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/disc"
)

func newISOCmd() *cobra.Command {
	var o disc.Options
	cmd := &cobra.Command{
		Use:   "iso INSTALLER.run [EXTRA...] -o OUT.iso",
		Short: "Wrap an installer into an ISO 9660 image (Rock Ridge, Joliet) for offline sites",
		Long: `Write an ISO image holding the installer under its own name, README.txt
with the install command, any EXTRA files or folders, and SHA256SUMS over
all of them. SOURCE_DATE_EPOCH, when set, is the image's only date.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Installer, o.Extra = args[0], args[1:]
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			o.Epoch = epoch
			return disc.Write(o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "image file to write (required)")
	cmd.Flags().StringVar(&o.Label, "label", "", "volume label (default NAME_VERSION)")
	cmd.MarkFlagRequired("output")
	return cmd
}

func newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE.iso|FILE.run",
		Short: "Check an image's SHA256SUMS and every installer's own checksum and entries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return disc.Verify(cmd.Context(), args[0], cmd.OutOrStdout())
		},
	}
}
