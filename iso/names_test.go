package iso

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// named builds sorted sibling nodes and assigns their identifiers;
// names ending in '/' are directories.
func named(names ...string) []*node {
	var nodes []*node
	for _, n := range names {
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(n, "/") {
			n, mode = strings.TrimSuffix(n, "/"), fs.ModeDir|0o755
		}
		nodes = append(nodes, &node{name: n, mode: mode})
	}
	slices.SortFunc(nodes, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	assignNames(nodes)
	return nodes
}

func TestNames(t *testing.T) {
	long := strings.Repeat("Same long prefix ", 3)
	for _, tc := range []struct {
		names  []string
		iso    []string // in ECMA-119 order
		joliet []string
	}{
		{
			names:  []string{"My Fancy App 1.2.3 x86_64 Installer.run"},
			iso:    []string{"MY_FANCY_APP_1_2_3_X86_64_I.RUN;1"},
			joliet: []string{"My Fancy App 1.2.3 x86_64 Installer.run;1"},
		},
		{
			names:  []string{"my app.run", "My App.run", "MY_APP.RUN"},
			iso:    []string{"MY_APP.RUN;1", "MY_APP_1.RUN;1", "MY_APP_2.RUN;1"}, // "MY_APP.RUN" < "My App.run" < "my app.run"
			joliet: []string{"MY_APP.RUN;1", "My App.run;1", "my app.run;1"},
		},
		{
			names:  []string{"readme", "archive.tar.gz", "some.dir/", ".bashrc", "file.verylongextension"},
			iso:    []string{".BASHRC;1", "ARCHIVE_TAR.GZ;1", "FILE.VERYLONG;1", "README.;1", "SOME_DIR"},
			joliet: []string{".bashrc;1", "archive.tar.gz;1", "file.verylongextension;1", "readme;1", "some.dir"},
		},
		{
			// A file "foo" ("FOO.") and a directory "FOO" look alike to readers.
			names:  []string{"FOO/", "foo"},
			iso:    []string{"FOO", "FOO_1.;1"},
			joliet: []string{"FOO", "foo;1"},
		},
		{
			names:  []string{"日本語.txt", "a:b*c?.txt"},
			iso:    []string{"A_B_C_.TXT;1", "___.TXT;1"},
			joliet: []string{"a_b_c_.txt;1", "日本語.txt;1"},
		},
		{
			// Identical after shortening: suffixes keep the length limit.
			names: []string{long + "one.txt", long + "two.txt"},
			iso:   []string{"SAME_LONG_PREFIX_SAME_LONG_.TXT;1", "SAME_LONG_PREFIX_SAME_LON_1.TXT;1"},
			joliet: []string{
				long + "one.txt;1",
				long + "two.txt;1",
			},
		},
		{
			names: []string{strings.Repeat("x", 70) + "1.txt", strings.Repeat("x", 70) + "2.txt"},
			iso:   []string{strings.Repeat("X", 27) + ".TXT;1", strings.Repeat("X", 25) + "_1.TXT;1"},
			joliet: []string{
				strings.Repeat("x", 60) + ".txt;1",
				strings.Repeat("x", 58) + "_1.txt;1",
			},
		},
		{
			// The cut does not split a surrogate pair.
			names:  []string{strings.Repeat("a", 63) + "🚀🚀/"},
			iso:    []string{strings.Repeat("A", 31)},
			joliet: []string{strings.Repeat("a", 63)},
		},
	} {
		nodes := named(tc.names...)
		var joliet []string
		for _, n := range nodes {
			joliet = append(joliet, n.jolietID)
		}
		slices.SortFunc(nodes, func(a, b *node) int { return compareISO(a.isoID, b.isoID) })
		var sortedISO []string
		for _, n := range nodes {
			sortedISO = append(sortedISO, n.isoID)
		}
		if !slices.Equal(sortedISO, tc.iso) {
			t.Errorf("%q: ISO identifiers %q, want %q", tc.names, sortedISO, tc.iso)
		}
		slices.Sort(joliet)
		want := slices.Clone(tc.joliet)
		slices.Sort(want)
		if !slices.Equal(joliet, want) {
			t.Errorf("%q: Joliet identifiers %q, want %q", tc.names, joliet, want)
		}
	}
}

func TestLabels(t *testing.T) {
	for label, want := range map[string]string{
		"MyApp 1.2.3": "MYAPP_1_2_3",
		"":            "",
		"a-very-long-label-that-exceeds-thirty-two": "A_VERY_LONG_LABEL_THAT_EXCEEDS_T",
	} {
		if got := isoLabel(label); got != want {
			t.Errorf("isoLabel(%q) = %q, want %q", label, got, want)
		}
	}
}

var (
	isoFileID = regexp.MustCompile(`^[A-Z0-9_]*\.[A-Z0-9_]*;1$`)
	isoDirID  = regexp.MustCompile(`^[A-Z0-9_]+$`)
)

// FuzzNames checks that identifiers are unique, valid and short enough
// for any set of sibling names. Names are separated by '/'; a leading
// '+' makes a directory.
func FuzzNames(f *testing.F) {
	f.Add("My App.run/my app.run/MY_APP.RUN/+my app.run dir")
	f.Add("a/A/a.b/A.B/+a.b/.a/..a/a./" + strings.Repeat("é", 100))
	f.Add(strings.Repeat("x", 40) + "1.txt/" + strings.Repeat("x", 40) + "2.txt/+\xff\xfe/\xfe")
	f.Fuzz(func(t *testing.T, list string) {
		seen := map[string]bool{}
		var names []string
		for _, n := range strings.Split(list, "/") {
			real := strings.TrimPrefix(n, "+")
			if real == "" || real == "." || real == ".." || len(real) > 255 || strings.ContainsRune(real, 0) || seen[real] {
				continue
			}
			seen[real] = true
			if n != real {
				real += "/"
			}
			names = append(names, real)
		}
		nodes := named(names...)
		isoSeen, jolietSeen := map[string]bool{}, map[string]bool{}
		for _, n := range nodes {
			if n.mode.IsDir() && !isoDirID.MatchString(n.isoID) || !n.mode.IsDir() && !isoFileID.MatchString(n.isoID) {
				t.Errorf("%q: invalid ISO identifier %q", n.name, n.isoID)
			}
			id := strings.TrimSuffix(n.isoID, ";1")
			if len(id) > isoMaxIdent || id == "." {
				t.Errorf("%q: ISO identifier %q too long or empty", n.name, n.isoID)
			}
			if isoSeen[isoKey(id)] {
				t.Errorf("%q: ISO identifier %q not unique", n.name, n.isoID)
			}
			isoSeen[isoKey(id)] = true

			j := jolietName(n)
			if !utf8.ValidString(j) || j == "" || units(j) > jolietMaxIdent || strings.ContainsAny(j, "*/:;?\\") {
				t.Errorf("%q: invalid Joliet identifier %q", n.name, n.jolietID)
			}
			key := string(ucs2(j))
			if jolietSeen[key] {
				t.Errorf("%q: Joliet identifier %q not unique", n.name, n.jolietID)
			}
			jolietSeen[key] = true
			if units(n.name) <= jolietMaxIdent && utf8.ValidString(n.name) && !strings.ContainsAny(n.name, "*/:;?\\") &&
				!strings.ContainsFunc(n.name, func(r rune) bool { return r < 0x20 }) && j != n.name {
				t.Errorf("%q: Joliet identifier %q changed a name that fits", n.name, n.jolietID)
			}
		}
	})
}
