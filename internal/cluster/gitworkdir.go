package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/stix-run/stix/internal/spec"
	"github.com/stix-run/stix/internal/transport"
)

// gitSource is a workdir that is a git repository (`workdir: {url, ref}`, --git-url/--git-ref): every node
// clones it itself, as SkyPilot's do.
type gitSource struct {
	url, ref string
	// token (GIT_TOKEN) authenticates https URLs; sshKey (GIT_SSH_KEY) is a private key for ssh and scp-like URLs.
	token, sshKey string
}

// newGitSource is the clone of t's git workdir, with the credentials t carries as secrets: the client put its
// GIT_TOKEN and the key its GIT_SSH_KEY_PATH names there (spec.Task.AddGitSecrets), as SkyPilot does.
func newGitSource(t *spec.Task) *gitSource {
	return &gitSource{url: t.Workdir.URL, ref: t.Workdir.Ref, token: t.Secrets["GIT_TOKEN"], sshKey: t.Secrets["GIT_SSH_KEY"]}
}

// cloneScript makes the directory $1 a checkout of $STIX_GIT_URL at $STIX_GIT_REF on the node, as SkyPilot's
// git_clone.sh does: a branch (the remote's default branch when no ref is given) or a tag is fetched shallow, a
// commit (4 or more hex digits that name no branch or tag) with full history; an existing checkout of the same
// repository is updated in place, keeping untracked files. GIT_TOKEN is put in https URLs for the fetch only
// (never stored in .git/config); GIT_SSH_KEY, a private key, is written to a temporary file for ssh.
const cloneScript = `set -eu
case $1 in "~/"*) dir=$HOME/${1#"~/"} ;; *) dir=$1 ;; esac
url=$STIX_GIT_URL ref=${STIX_GIT_REF:-}
command -v git >/dev/null 2>&1 || { echo "git is not installed on this node: install it in the node's image, or use a local workdir" >&2; exit 127; }
fetch_url=$url
if [ -n "${GIT_TOKEN:-}" ]; then
  case $url in https://*) fetch_url="https://$GIT_TOKEN@${url#https://}" ;; esac
fi
if [ -n "${GIT_SSH_KEY:-}" ]; then
  key=$(mktemp)
  trap 'rm -f "$key"' EXIT
  printf '%s\n' "$GIT_SSH_KEY" >"$key"
  chmod 600 "$key"
  export GIT_SSH_COMMAND="ssh -i $key -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
fi
export GIT_TERMINAL_PROMPT=0
if [ -d "$dir/.git" ]; then
  old=$(git -C "$dir" remote get-url origin 2>/dev/null || true)
  if [ -n "$old" ] && [ "$old" != "$url" ]; then
    echo "$dir is a clone of $old, not $url: remove it (or launch on another cluster)" >&2
    exit 1
  fi
  [ -n "$old" ] || git -C "$dir" remote add origin "$url"
else
  if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    echo "$dir holds files and is not a git checkout: remove it (or launch on another cluster)" >&2
    exit 1
  fi
  git init -q "$dir"
  git -C "$dir" remote add origin "$url"
fi
cd "$dir"
if [ -z "$ref" ]; then
  ref=$(git ls-remote --symref "$fetch_url" HEAD | sed -n 's|^ref: refs/heads/\(.*\)	HEAD$|\1|p')
  [ -n "$ref" ] || { echo "$url has no default branch: give a ref (workdir.ref or --git-ref)" >&2; exit 1; }
fi
if [ -n "$(git ls-remote "$fetch_url" "refs/heads/$ref")" ]; then
  git fetch -q --depth 1 "$fetch_url" "+refs/heads/$ref:refs/remotes/origin/$ref"
  git checkout -q -f -B "$ref" "refs/remotes/origin/$ref"
elif [ -n "$(git ls-remote "$fetch_url" "refs/tags/$ref")" ]; then
  git fetch -q --depth 1 "$fetch_url" "+refs/tags/$ref:refs/tags/$ref"
  git checkout -q -f "refs/tags/$ref"
elif printf '%s' "$ref" | grep -Eqx '[0-9a-fA-F]{4,40}'; then
  if [ -f .git/shallow ]; then unshallow=--unshallow; else unshallow=; fi
  git fetch -q $unshallow "$fetch_url" "+refs/heads/*:refs/remotes/origin/*" "+refs/tags/*:refs/tags/*"
  git checkout -q -f "$ref"
else
  echo "$ref is not a branch, tag or commit of $url" >&2
  exit 1
fi
echo "$url at $ref: $(git rev-parse --short HEAD)"`

// clone checks the repository out at dst on the node tr reaches. What git printed on failure comes back in the
// error.
func (g *gitSource) clone(ctx context.Context, tr transport.Transport, dst string) error {
	env := []string{"STIX_GIT_URL=" + g.url, "STIX_GIT_REF=" + g.ref}
	if g.token != "" {
		env = append(env, "GIT_TOKEN="+g.token)
	}
	if g.sshKey != "" {
		env = append(env, "GIT_SSH_KEY="+g.sshKey)
	}
	var out strings.Builder
	code, err := tr.Run(ctx, "sh -c "+transport.Quote(cloneScript)+" stix-git-clone "+transport.Quote(dst), transport.RunOptions{Env: env, Stdout: &out, Stderr: &out})
	if err != nil {
		return err
	}
	if code != 0 {
		msg := strings.TrimSpace(out.String())
		if g.token != "" {
			msg = strings.ReplaceAll(msg, g.token, "<GIT_TOKEN>")
		}
		return fmt.Errorf("clone %s: exit status %d: %s", g.url, code, msg)
	}
	return nil
}
