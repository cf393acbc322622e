package main

import (
	"github.com/spf13/cobra"
	"github.com/terrapack/terrapack/bundle"
)

func newBundleCmd() *cobra.Command {
	var o bundle.Options
	var includes []string
	var localize bool
	var prog progress
	cmd := &cobra.Command{
		Use:   "bundle EXE... -o DIR",
		Short: "Bundle programs with all their libraries and loader into a folder",
		Long: `Bundle programs into a terrarium: DIR/lib64 holds every library they load
and the dynamic loader, DIR/pbin the programs (patched to use them),
DIR/ebin one launcher per program. Build an installer from DIR with
"terrapack build DIR"; the installer points the programs at the installed
loader. --localize does that in place instead, to run DIR where it lies.

EXE is looked up in PATH unless it contains a slash. Needs patchelf.
SOURCE_DATE_EPOCH, when set, becomes every file's mtime.`,
		Example: `  terrapack bundle curl -o app
  terrapack bundle python3 --include /usr/lib/python3.11:lib/python3.11 -o py
  terrapack bundle convert-im6.q16 -o im \
    --include /usr/lib/x86_64-linux-gnu/ImageMagick-6.9.11/modules-Q16:lib/im/modules \
    --env 'MAGICK_CODER_MODULE_PATH=$TERRARIUM/lib/im/modules/coders'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Executables = args
			for _, s := range includes {
				inc, err := bundle.ParseInclude(s)
				if err != nil {
					return err
				}
				o.Includes = append(o.Includes, inc)
			}
			epoch, err := sourceDateEpoch()
			if err != nil {
				return err
			}
			o.Epoch = epoch
			o.Log = prog.log(cmd)
			o.Meter = prog.meter(cmd)
			if err := bundle.Bundle(o); err != nil || !localize {
				return err
			}
			return bundle.Localize(o.Output)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "", "folder to create (required; must be absent or empty)")
	f.StringArrayVar(&includes, "include", nil, "copy the tree SRC[:DEST] into the bundle, with the libraries its shared objects need")
	f.StringArrayVar(&o.Env, "env", nil, "NAME=VALUE every launcher exports; $TERRARIUM is the install folder (expanded by sh at run time)")
	f.BoolVar(&localize, "localize", false, "point the programs at DIR's own loader so DIR runs in place")
	prog.register(cmd)
	cmd.MarkFlagRequired("output")
	return cmd
}
