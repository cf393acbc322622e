package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// tree is a test tree: name → "dir", "file" or "-> target".
type tree map[string]string

func (t tree) look(name string) (Kind, string) {
	v, ok := t[name]
	switch {
	case !ok:
		return Missing, ""
	case v == "dir":
		return Dir, ""
	case strings.HasPrefix(v, "-> "):
		return Link, strings.TrimPrefix(v, "-> ")
	}
	return Other, ""
}

// chain is n links c01 → c02 → … → cN, the last pointing to last.
func chain(n int, last string) tree {
	t := tree{}
	for i := 1; i < n; i++ {
		t[fmt.Sprintf("c%02d", i)] = fmt.Sprintf("-> c%02d", i+1)
	}
	t[fmt.Sprintf("c%02d", n)] = "-> " + last
	return t
}

// upChain is the hostile corpus's 12-level chain: l00 -> a/.., then each
// lNN -> its predecessor/.., each link a level further up.
func upChain() tree {
	t := tree{"a": "dir"}
	prev := "a"
	for i := 0; i < 12; i++ {
		n := fmt.Sprintf("l%02d", i)
		t[n] = "-> " + prev + "/.."
		prev = n
	}
	return t
}

type resolveCase struct {
	name  string
	tree  tree
	later []string // folders made later: missing from the model, made on disk
	link  string
	want  Outcome
	via   string
}

var resolveCases = []resolveCase{
	{"sibling file", tree{"f": "file", "l": "-> f"}, nil, "l", Inside, ""},
	{"dot-dot at the root", tree{"esc": "-> .."}, nil, "esc", Outside, "esc"},
	{"dot-dot from a folder", tree{"d": "dir", "d/l": "-> ../f", "f": "file"}, nil, "d/l", Inside, ""},
	{"dot-dot past the root from a folder", tree{"d": "dir", "d/e": "dir", "d/e/l": "-> ../../../x"}, nil, "d/e/l", Outside, "d/e/l"},
	{"dot and empty components", tree{"d": "dir", "l": "-> ./d//./.."}, nil, "l", Inside, ""},
	{"chain up", tree{"d": "dir", "d/up": "-> ..", "esc": "-> d/up/.."}, nil, "esc", Outside, "esc"},
	{"chain, the inner link climbs", tree{"d": "dir", "d/up": "-> ../..", "esc": "-> d/up"}, nil, "esc", Outside, "d/up"},
	{"link into a folder, then dot-dot stays", tree{"d": "dir", "d/e": "dir", "l": "-> d/e", "x": "-> l/../.."}, nil, "x", Inside, ""},
	{"link into a folder, then dot-dot climbs", tree{"d": "dir", "d/e": "dir", "l": "-> d/e", "y": "-> l/../../.."}, nil, "y", Outside, "y"},
	{"link to a link in another folder", tree{"d": "dir", "e": "dir", "d/l": "-> ../e/m", "e/m": "-> ../../x"}, nil, "d/l", Outside, "e/m"},
	{"12-level chain, first link", upChain(), nil, "l00", Inside, ""},
	{"12-level chain, last link", upChain(), nil, "l11", Outside, "l01"},
	{"dangling name, then up", tree{"l": "-> not-yet/../../x"}, []string{"not-yet"}, "l", Outside, "l"},
	{"dangling names, then back", tree{"l": "-> later/x/../.."}, []string{"later", "later/x"}, "l", Inside, ""},
	{"through a file", tree{"f": "file", "l": "-> f/../.."}, nil, "l", Inside, ""},
	{"absolute", tree{"etc": "-> /etc"}, nil, "etc", Absolute, "etc"},
	{"absolute on the way", tree{"a": "-> /tmp", "l": "-> a/x"}, nil, "l", Absolute, "a"},
	{"loop", tree{"a": "-> b", "b": "-> a"}, nil, "a", TooManyLinks, ""},
	{"self loop", tree{"a": "-> a"}, nil, "a", TooManyLinks, ""},
	{"40 links, then up", chain(40, ".."), nil, "c01", Outside, "c40"},
	{"41 links, then up", chain(41, ".."), nil, "c01", TooManyLinks, ""},
	{"40 links to a file", merge(chain(40, "f"), tree{"f": "file"}), nil, "c01", Inside, ""},
	{"not a link", tree{"f": "file"}, nil, "f", Inside, ""},
}

func merge(a, b tree) tree {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestResolveLink(t *testing.T) {
	for _, c := range resolveCases {
		out, via := ResolveLink(c.link, c.tree.look)
		if out != c.want || via != c.via {
			t.Errorf("%s: ResolveLink(%q) = %v, %q; want %v, %q", c.name, c.link, out, via, c.want, c.via)
		}
	}
}

// TestResolveLinkAsTheKernel builds each case on disk (with the folders the
// model takes as made later) and asks the kernel itself: openat2 with
// RESOLVE_BENEATH fails with EXDEV where a lookup would leave the root, and
// with ELOOP past its link limit.
func TestResolveLinkAsTheKernel(t *testing.T) {
	for _, c := range resolveCases {
		if c.want == Absolute {
			continue // the kernel follows it wherever it points
		}
		root := filepath.Join(t.TempDir(), "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range c.tree {
			names = append(names, n)
		}
		names = append(names, c.later...)
		slices.Sort(names) // parents before their children
		for _, n := range names {
			p := filepath.Join(root, n)
			var err error
			switch v, inModel := c.tree[n]; {
			case !inModel || v == "dir":
				err = os.Mkdir(p, 0o755)
			case strings.HasPrefix(v, "-> "):
				err = os.Symlink(strings.TrimPrefix(v, "-> "), p)
			default:
				err = os.WriteFile(p, nil, 0o644)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		kernel, err := askKernel(t, root, c.link)
		if kernel != c.want && kernel != kernelAlso[c.name] {
			t.Errorf("%s: the kernel says %v (%v), the case %v", c.name, kernel, err, c.want)
		}
	}
}

// kernelAlso is another refusal a kernel may give for a case that the model
// refuses. At exactly 40 links whose last one climbs out, Linux 6.18.44
// answers ELOOP every time, where the kernel of an earlier machine answered
// EXDEV (and once ELOOP): both refuse the lookup, as the model does.
var kernelAlso = map[string]Outcome{"40 links, then up": TooManyLinks}

// askKernel resolves link beneath root with openat2, as the installer's
// writes are resolved, and says what the kernel found.
func askKernel(t *testing.T, root, link string) (Outcome, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := unix.Openat2(fd, link, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
	unix.Close(fd)
	if err == nil {
		unix.Close(got)
	}
	switch {
	case errors.Is(err, unix.ENOSYS):
		t.Skip("no openat2 on this kernel (before Linux 5.6): cannot ask it")
	case err == nil, errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return Inside, err
	case errors.Is(err, unix.EXDEV):
		return Outside, err
	case errors.Is(err, unix.ELOOP):
		return TooManyLinks, err
	}
	t.Fatalf("%s: openat2: %v", link, err)
	return 0, err
}

func (o Outcome) String() string {
	return [...]string{"Inside", "Outside", "Absolute", "TooManyLinks"}[o]
}
