package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary is also the agent here: "confine" is the confine step, "confined-job DIR" starts a job the
// way the agent does (Start with Confine) in the tree confineTree made under DIR and prints its log and code.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case ConfineCommand:
			os.Exit(ConfineMain(os.Args[2:], os.Stderr))
		case "confined-job":
			os.Exit(confinedJob(os.Args[2]))
		}
	}
	os.Exit(m.Run())
}

// confineTree is a stix home with two nodes' homes and their agents' files:
//
//	stix/state.db  stix/local/a/agent-0/{secret,procs/}  stix/local/a/node-0/  stix/local/b/agent-0/secret
const confineScript = `leak() { if "$@" >/dev/null 2>&1; then echo "LEAK: $*"; fi; }
leak cat ../agent-0/secret
leak ls ../agent-0/procs
leak cat ../../b/agent-0/secret
leak cat ../../../state.db
leak cat "$STIX/state.db"
leak cat "$STIX/local/b/agent-0/secret"
leak touch "$STIX/planted"
echo "ls: $(ls -A "$STIX") $(ls -A "$STIX/local") $(ls -A "$STIX/local/a")"
echo mine >own && cat "$PWD/own"
f=$(mktemp "${TMPDIR:-/tmp}/confine.XXXXXX") && echo tmp >"$f" && cat "$f" && rm -f "$f"
echo "uid $(id -u)"
grep CapEff /proc/self/status
`

func confineTree(t *testing.T, base string) {
	t.Helper()
	for _, d := range []string{"stix/local/a/agent-0/procs", "stix/local/a/node-0", "stix/local/b/agent-0"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"stix/state.db", "stix/local/a/agent-0/secret", "stix/local/b/agent-0/secret"} {
		if err := os.WriteFile(filepath.Join(base, f), []byte("secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func confinedJob(base string) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stix := filepath.Join(base, "stix")
	home, procs := filepath.Join(stix, "local/a/node-0"), filepath.Join(stix, "local/a/agent-0/procs")
	p, err := Start(Spec{
		Script: confineScript, Env: append(os.Environ(), "STIX="+stix, "HOME="+home), Dir: home,
		ScriptPath: filepath.Join(procs, "1.sh"), LogPath: filepath.Join(procs, "1.log"), RCPath: filepath.Join(procs, "1.rc"),
		Confine: &Confine{Exe: exe, Hide: []string{stix}, Keep: []string{home}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := p.Wait()
	rc, ok := ReadRC(filepath.Join(procs, "1.rc"))
	log, _ := os.ReadFile(filepath.Join(procs, "1.log"))
	fmt.Printf("unconfined=%q wait=%d rc=%d,%v\n%s", p.Unconfined, code, rc, ok, log)
	return 0
}

func checkConfined(t *testing.T, out string, uid int) {
	t.Helper()
	want := []string{`unconfined=""`, "wait=0 rc=0,true", "ls: local a node-0", "mine", "tmp", fmt.Sprintf("uid %d", uid)}
	if uid != 0 {
		want = append(want, "CapEff:\t0000000000000000") // it cannot unmount what hides the tree
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "LEAK") {
		t.Errorf("the job reached hidden files:\n%s", out)
	}
}

// TestConfine: the job sees its home, its workdir and /tmp, and nothing else of the hidden tree; the rc file,
// in the hidden procs directory, is written all the same. As root the confine step makes a mount namespace; as
// another user, a user namespace with it.
func TestConfine(t *testing.T) {
	base := t.TempDir()
	confineTree(t, base)
	out, err := exec.Command(os.Args[0], "confined-job", base).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	checkConfined(t, string(out), os.Geteuid())
	if _, err := os.Stat(filepath.Join(base, "stix/local/a/node-0/own")); err != nil {
		t.Errorf("the job's write to its home did not land in the real home: %v", err)
	}
}

// TestConfineUnprivileged runs the same job as an unprivileged user (nobody, through setpriv): the confine
// step is then the first process of a user namespace mapping the user to itself.
func TestConfineUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("TestConfine runs as this unprivileged user already; becoming nobody needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is needed to run as another user: %v", err)
	}
	base, err := os.MkdirTemp("", "confine-nobody")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	confineTree(t, base)
	bin := filepath.Join(base, "agent.test")
	b, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	err = filepath.Walk(base, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "confined-job", base)
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(string(out), `unconfined="cannot make a mount namespace`) {
		t.Fatalf("unprivileged user namespaces are disabled on this machine; the job ran unconfined:\n%s", out)
	}
	checkConfined(t, string(out), nobody)
}

// TestConfineFailsOpen: when the namespace cannot be set up, the job runs all the same, unconfined, and Start
// says why (the agent logs it).
func TestConfineFailsOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p, err := Start(Spec{
		Script: "echo ran", Env: os.Environ(), Dir: dir,
		ScriptPath: filepath.Join(dir, "1.sh"), LogPath: filepath.Join(dir, "1.log"), RCPath: filepath.Join(dir, "1.rc"),
		// A kept directory that does not exist cannot be kept: hiding its parent would hide the job's home.
		Confine: &Confine{Exe: os.Args[0], Hide: []string{dir}, Keep: []string{filepath.Join(dir, "gone")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if !strings.Contains(p.Unconfined, "gone") {
		t.Errorf("Unconfined = %q, want the reason naming the missing directory", p.Unconfined)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "1.log")); strings.TrimSpace(string(log)) != "ran" {
		t.Errorf("log %q, want the job's output", log)
	}
}
