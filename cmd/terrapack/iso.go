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
	var signKey string
	cmd := &cobra.Command{
		Use:   "iso INSTALLER.run [EXTRA...] -o OUT.iso",
		Short: "Wrap an installer into an ISO 9660 image (Rock Ridge, Joliet) for offline sites",
		Long: `Write an ISO image holding the installer under its own name, README.txt
with the install and check commands, any EXTRA files or folders, SHA256SUMS
over all of them (signed into SHA256SUMS.sig with --sign KEY, an OpenSSH
ed25519 private key), and a media checksum that checkisomd5 checks.
Every date on it is SOURCE_DATE_EPOCH when set, else the newest
modification time of the files it holds.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Installer, o.Extra = args[0], args[1:]
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			o.Epoch = epoch
			o.Meter = prog.meter(cmd)
			o.Log = prog.log(cmd)
			if signKey != "" {
				if o.Signer, err = loadSigner(signKey, o.Extra...); err != nil {
					return err
				}
			}
			return disc.Write(o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "image file to write (required)")
	cmd.Flags().StringVar(&o.Label, "label", "", "volume label (default NAME_VERSION)")
	prog.register(cmd)
	cmd.Flags().StringVar(&signKey, "sign", "", "sign SHA256SUMS with this OpenSSH ed25519 private key file")
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
