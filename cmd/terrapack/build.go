package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/builder"
	"github.com/terrapack/terrapack/disc"
	"github.com/terrapack/terrapack/sshsig"
)

func newBuildCmd() *cobra.Command {
	var o builder.Options
	var prog progress
	var isoOut, isoLabel, signKey string
	cmd := &cobra.Command{
		Use:   "build SRC -o OUT.run",
		Short: "Build an installer from a folder",
		Long: `Build a self-extracting installer from the folder SRC.

SRC may also be an archive (tar.gz, tar.xz, tar.zst, zip): see
docs/RELOCATION.md for where its build prefix, name and version come from.
Options may also come from SRC/terrapack.yaml (inside an archive: at its
tree's root; keys: name, version, compression, level, default_target, arch,
post_install, prefix, config, keep, license, sign); flags win.
SOURCE_DATE_EPOCH, when set, clamps file times for reproducible output.

--sign KEY signs the installer with an OpenSSH ed25519 private key (made by
ssh-keygen -t ed25519); a key with a passphrase is used through ssh-agent
(SSH_AUTH_SOCK) or its passphrase is asked on the terminal. The customer
checks it with ./NAME.run --verify-key KEYS, or with ssh-keygen alone
(docs/FORMAT.md). Same input and key give the same bytes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source = args[0]
			var signer sshsig.Signer // also signs the --iso disc
			// Build calls this with the tree's terrapack.yaml, which for an
			// archive is known only once it is unpacked.
			o.Configure = func(o *builder.Options, c *builder.Config) error {
				if err := applyConfig(cmd, o, c, &signKey); err != nil {
					return err
				}
				if o.DetachedSig && signKey == "" {
					return &hinted{errors.New("--detached-sig needs --sign KEY"), "name the ed25519 private key to sign with"}
				}
				if signKey != "" {
					var err error
					if signer, err = loadSigner(signKey, o.Source); err != nil {
						return err
					}
					o.Signer = signer
				}
				return nil
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			o.Epoch = epoch
			o.Log = prog.log(cmd)
			o.Warn = cmd.ErrOrStderr()
			o.Meter = prog.meter(cmd)
			var ie *builder.InputError
			if err = builder.Build(o); errors.Is(err, syscall.ENOSPC) {
				return &hinted{err, "free space where -o points, or write the installer to another file system"}
			} else if errors.As(err, &ie) {
				return &hinted{err, ie.Hint}
			} else if err != nil || isoOut == "" {
				return err
			}
			return disc.Write(disc.Options{Installer: o.Output, Output: isoOut, Label: isoLabel, Epoch: epoch, Meter: o.Meter, Log: o.Log, Signer: signer})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "installer file to write (required)")
	f.StringVar(&o.Name, "name", "", "application name (default: the folder's name)")
	f.StringVar(&o.Version, "version", "", "application version")
	f.StringVar(&o.Compression, "compression", builder.DefaultCompression, "payload compression: zstd, xz, gzip or none")
	f.IntVar(&o.Level, "level", 0, "compression level (zstd 1-22, gzip 1-9; default: the method's)")
	f.StringVar(&o.DefaultTarget, "default-target", "", "folder used when the customer gives no --to (default /opt/NAME)")
	f.StringVar(&o.Arch, "arch", builder.DefaultArch, "target architecture of the installer stub")
	f.StringVar(&o.PostInstall, "post-install", "", "program inside SRC to run after install (its failure undoes the install)")
	f.StringArrayVar(&o.Prefixes, "prefix", nil, "build prefix whose mentions are rewritten to the install path; repeatable (default: SRC's real path)")
	f.StringArrayVar(&o.Config, "config", nil, "glob of config files: on upgrade a file the customer changed is kept, the new one written beside as NAME.terrapack-new; repeatable")
	f.StringArrayVar(&o.Keep, "keep", nil, "glob of data (e.g. 'var/**') moved into the new tree on upgrade, never deleted; repeatable")
	f.StringVar(&o.License, "license", "", "text file the customer must accept before installing (the YAML key license: names one inside SRC)")
	f.StringVar(&signKey, "sign", "", "sign with this OpenSSH ed25519 private key file")
	f.BoolVar(&o.DetachedSig, "detached-sig", false, "with --sign, also write OUT.run.sig, checkable by ssh-keygen -Y verify alone")
	f.StringVar(&isoOut, "iso", "", "also write an ISO image holding the installer")
	f.StringVar(&isoLabel, "iso-label", "", "volume label of the --iso image (default NAME_VERSION)")
	prog.register(cmd)
	cmd.MarkFlagRequired("output")
	return cmd
}

// applyConfig fills options not given as flags from the tree's terrapack.yaml.
func applyConfig(cmd *cobra.Command, o *builder.Options, c *builder.Config, signKey *string) error {
	f := cmd.Flags()
	set := func(flag string, dst *string, v string) {
		if !f.Changed(flag) && v != "" {
			*dst = v
		}
	}
	set("name", &o.Name, c.Name)
	set("version", &o.Version, c.Version)
	set("compression", &o.Compression, c.Compression)
	set("default-target", &o.DefaultTarget, c.DefaultTarget)
	set("arch", &o.Arch, c.Arch)
	set("post-install", &o.PostInstall, c.PostInstall)
	set("sign", signKey, c.Sign)
	if !f.Changed("prefix") && len(c.Prefix) > 0 {
		o.Prefixes = c.Prefix
	}
	if f.Changed("license") {
		// A flag names a file from where the command runs; the YAML key one in SRC.
		abs, err := filepath.Abs(o.License)
		if err != nil {
			return err
		}
		o.License = abs
	}
	set("license", &o.License, c.License)
	if !f.Changed("config") && len(c.ConfigFiles) > 0 {
		o.Config = c.ConfigFiles
	}
	if !f.Changed("keep") && len(c.Keep) > 0 {
		o.Keep = c.Keep
	}
	if !f.Changed("level") && c.Level != 0 {
		o.Level = c.Level
	}
	return nil
}

// loadSigner loads the signing key at path ("~/" is the home folder),
// refusing one inside a folder being packed.
func loadSigner(path string, packed ...string) (sshsig.Signer, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("cannot expand %q: %w", path, err)
		}
		path = filepath.Join(home, rest)
	}
	var err error
	for _, p := range packed {
		if err == nil {
			err = builder.CheckKeyOutside(path, p)
		}
	}
	var s sshsig.Signer
	if err == nil {
		s, err = builder.LoadSigner(path)
	}
	var ske *builder.SignKeyError
	if errors.As(err, &ske) {
		return nil, &hinted{ske.Err, ske.Hint}
	}
	return s, err
}
