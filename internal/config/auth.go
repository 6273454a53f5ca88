package config

// APIServerAuth is api_server.auth and rbac.default_role: how an API server authenticates callers.
type APIServerAuth struct {
	ServiceAccounts bool
	HtpasswdFile    string
	ProxyHeader     string
	TrustedProxies  []string
	Admins          []string
	DefaultRole     string
}

// APIServerAuth reads the server's authentication settings; htpasswd_file has ~ expanded against home.
func (c *Config) APIServerAuth(home string) APIServerAuth {
	str := func(path string) string {
		v, _ := c.Get(path)
		s, _ := v.(string)
		return s
	}
	sa, _ := c.Get("api_server.auth.service_accounts")
	b, _ := sa.(bool)
	a := APIServerAuth{ServiceAccounts: b, HtpasswdFile: str("api_server.auth.htpasswd_file"),
		ProxyHeader: str("api_server.auth.proxy_header"), TrustedProxies: c.strings("api_server.auth.trusted_proxies"),
		Admins: c.strings("api_server.auth.admins"), DefaultRole: str("rbac.default_role")}
	if a.HtpasswdFile != "" {
		a.HtpasswdFile = expandHome(a.HtpasswdFile, home)
	}
	return a
}
