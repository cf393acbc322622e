package planner

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/relocate"
)

// planTree plans every entry of src as the builder does and writes the
// packed content (builder patches applied) to packed.
func planTree(t *testing.T, src, packed, buildPrefix string) *relocate.Plan {
	t.Helper()
	p, err := New(buildPrefix)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(src, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, full)
		name, dst := filepath.ToSlash(rel), filepath.Join(packed, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return err
			}
			p.Symlink(name, target)
			return os.Symlink(target, dst)
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		pk, err := p.File(name, bytes.NewReader(data), int64(len(data)), info.Mode())
		if err != nil {
			return err
		}
		if pk.Content != nil { // a rendered template, packed under its new name
			data, dst = pk.Content, filepath.Join(packed, filepath.FromSlash(pk.Name))
		}
		for _, pt := range pk.Patches {
			if n := copy(data[pt.Offset:], pt.Data); n != len(pt.Data) {
				t.Fatalf("patch of %s at %d runs past the end", name, pt.Offset)
			}
		}
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, p.Plan())
}

// roundTrip passes the plan through JSON, as the manifest does.
func roundTrip(t *testing.T, pl *relocate.Plan) *relocate.Plan {
	t.Helper()
	data, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	var out relocate.Plan
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// installTree extracts packed into target through a, as the installer does.
func installTree(t *testing.T, packed, target string, a *relocate.Applier) {
	t.Helper()
	err := filepath.WalkDir(packed, func(full string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(packed, full)
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(filepath.Join(target, rel), 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(full)
			if err != nil {
				return err
			}
			if link, err = a.Symlink(name, link); err != nil {
				return err
			}
			return os.Symlink(link, filepath.Join(target, rel))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		_, err = extract(t, a, target, name, data, info.Mode().Perm())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rest := a.Remaining(); len(rest) != 0 {
		t.Fatalf("Remaining() = %q after a full install", rest)
	}
}

// extract writes one file under root the way payload.Extractor does, in
// small uneven writes to exercise the streaming rewriters, and returns its path.
func extract(t *testing.T, a *relocate.Applier, root, name string, data []byte, mode fs.FileMode) (string, error) {
	t.Helper()
	rw, err := a.File(name)
	if err != nil {
		return "", err
	}
	full := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(full, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var w io.Writer = f
	var wc io.WriteCloser
	if rw.Wrap != nil {
		wc = rw.Wrap(f)
		w = wc
	}
	for i, step := 0, 1; i < len(data); i, step = i+step, step%97+7 {
		if _, err := w.Write(data[i:min(len(data), i+step)]); err != nil {
			return "", err
		}
	}
	if wc != nil {
		if err := wc.Close(); err != nil {
			return "", err
		}
	}
	if rw.Patch != nil {
		if err := rw.Patch(f, name); err != nil {
			return "", err
		}
	}
	return full, f.Close()
}

// writeTree creates files under root: names ending in "/" are folders,
// "name -> target" symlinks, "name*" executables.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := fs.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		full := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if n, target, ok := strings.Cut(name, " -> "); ok {
			if err := os.Symlink(target, filepath.Join(root, n)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}
