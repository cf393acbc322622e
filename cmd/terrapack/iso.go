package main

import (
	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/disc"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/sshsig"
)

func newISOCmd() *cobra.Command {
	var o disc.Options
	var prog progress
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
			o.Meter = prog.meter(cmd)
			return disc.Write(o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "image file to write (required)")
	cmd.Flags().StringVar(&o.Label, "label", "", "volume label (default NAME_VERSION)")
	prog.register(cmd)
	cmd.MarkFlagRequired("output")
	return cmd
}

func newVerifyCmd() *cobra.Command {
	var keysFile string
	cmd := &cobra.Command{
		Use:   "verify FILE.iso|FILE.run",
		Short: "Check an image's SHA256SUMS and every installer's own checksum, signature and entries",
		Long: `Check an installer, or an image and every installer on it. With --key KEYS
(a file of "ssh-ed25519 AAAA…" or allowed_signers lines, or one key inline)
every installer must be signed by one of those keys.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []sshsig.Key
			if keysFile != "" {
				var err error
				if keys, err = readKeys(keysFile); err != nil {
					return err
				}
			}
			return disc.Verify(cmd.Context(), args[0], cmd.OutOrStdout(), keys)
		},
	}
	cmd.Flags().StringVar(&keysFile, "key", "", "trusted signing keys: a file, or one key inline")
	return cmd
}

// readKeys reads trusted keys as the installer's --verify-key does.
func readKeys(arg string) ([]sshsig.Key, error) {
	keys, err := sshsig.LoadKeys(arg, payload.SignatureNamespace)
	if err != nil {
		return nil, &hinted{err, "give --key the publisher's public key: a file of \"ssh-ed25519 AAAA…\" or allowed_signers lines, or one key inline"}
	}
	return keys, nil
}
