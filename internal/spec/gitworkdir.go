package spec

import (
	"fmt"
	"strings"
)

// gitURLForms are the URL forms a git workdir takes, for messages.
const gitURLForms = "https://host/owner/repo, ssh://user@host/owner/repo, user@host:owner/repo or file:///path/to/repo"

// checkGitURL accepts the repository URLs SkyPilot takes (https, http, ssh and scp-like user@host:path) and,
// beyond SkyPilot, git:// and file:// (a repository the nodes reach on their own file system).
func checkGitURL(url string) error {
	u := strings.TrimSpace(url)
	if u == "" {
		return fmt.Errorf("the git URL is empty")
	}
	for _, scheme := range []string{"https://", "http://", "ssh://", "git://", "file://"} {
		if rest, ok := strings.CutPrefix(u, scheme); ok && rest != "" && rest != "/" {
			return nil
		}
	}
	// scp-like: [user@]host:path, with no scheme and no slash before the colon.
	if host, path, ok := strings.Cut(u, ":"); ok && !strings.Contains(u, "://") && path != "" &&
		host != "" && !strings.ContainsAny(host, "/ ") {
		return nil
	}
	return &hintError{msg: fmt.Sprintf("unsupported git URL %q", url), hint: "use " + gitURLForms}
}

// applyGitOverrides lays --git-url and --git-ref over the task's workdir as SkyPilot's update_workdir does:
// --git-url makes the workdir that repository (keeping the task's ref unless --git-ref gives one), --git-ref
// alone changes the ref of a workdir that is a repository. It returns the change to make, or fails.
func applyGitOverrides(o Overrides, cur *Workdir, fail func(flag string, err error)) func(*Task) {
	switch {
	case o.GitURL != nil:
		if err := checkGitURL(*o.GitURL); err != nil {
			fail("--git-url", err)
			return nil
		}
		w := &Workdir{URL: strings.TrimSpace(*o.GitURL)}
		if cur != nil && cur.URL != "" {
			w.Ref = cur.Ref
		}
		if o.GitRef != nil {
			w.Ref = strings.TrimSpace(*o.GitRef)
		}
		return func(t *Task) { t.Workdir = w }
	case o.GitRef != nil:
		if cur == nil || cur.URL == "" {
			fail("--git-ref", &hintError{msg: "no git repository to check the ref out of",
				hint: "give the repository with --git-url, or as `workdir: {url: ..., ref: ...}` in the task"})
			return nil
		}
		w := &Workdir{URL: cur.URL, Ref: strings.TrimSpace(*o.GitRef)}
		return func(t *Task) { t.Workdir = w }
	}
	return nil
}

// AddGitSecrets makes the credentials of a task whose workdir is a git repository task secrets, as SkyPilot's
// update_envs_and_secrets_from_workdir does, so that they travel with the task to the nodes that clone it:
// token (the client's GIT_TOKEN) as GIT_TOKEN, and sshKey (the content of the file the client's
// GIT_SSH_KEY_PATH names, read by the client) as GIT_SSH_KEY. Empty arguments add nothing; a secret the task
// sets itself wins; a task whose workdir is not a repository is left as it is.
func (t *Task) AddGitSecrets(token, sshKey string) {
	if t.Workdir == nil || t.Workdir.URL == "" {
		return
	}
	for k, v := range map[string]string{"GIT_TOKEN": token, "GIT_SSH_KEY": sshKey} {
		if _, set := t.Secrets[k]; !set && v != "" {
			if t.Secrets == nil {
				t.Secrets = Secrets{}
			}
			t.Secrets[k] = v
		}
	}
}
