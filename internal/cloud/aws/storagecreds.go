package aws

import (
	"context"
	"fmt"
	"strings"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/stix-run/stix/internal/cloud/credcheck"
	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
)

// StorageCredentials returns the AWS SDK's default credential chain (environment, shared files and profiles,
// SSO, assumed roles, credential_process, web identity, container and instance roles) for stix's own S3 client,
// which reads access keys only: the CLI and the API server, which link the SDK already, give it to stores.Open
// as Options.S3CredentialChain (or S3Credentials); the node agent, which links no SDK, does not.
//
// env (nil: the process's) names the profile (AWS_PROFILE, else AWS_DEFAULT_PROFILE), the shared files
// (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, else ~/.aws under env's home) and whether the instance metadata
// service may be asked (AWS_EC2_METADATA_DISABLED=true: never); the rest the SDK reads from the process's
// environment. Nothing is loaded until the first Retrieve: the SDK costs a command nothing that needs no S3
// credentials. The SDK's cache refreshes the credentials as they expire.
func StorageCredentials(env *credcheck.Env) s3.CredentialsProvider { return &sdkCredentials{env: env} }

type sdkCredentials struct {
	env  *credcheck.Env
	once sync.Once
	prov awssdk.CredentialsProvider
	err  error
}

// loadOptions are the SDK's options that env decides.
func (s *sdkCredentials) loadOptions() []func(*awsconfig.LoadOptions) error {
	e := s.env
	if e == nil {
		return nil
	}
	var opts []func(*awsconfig.LoadOptions) error
	if p := firstSet(e.Var("AWS_PROFILE"), e.Var("AWS_DEFAULT_PROFILE")); p != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(p))
	}
	if f := firstSet(e.Expand(e.Var("AWS_SHARED_CREDENTIALS_FILE")), e.HomeFile(".aws", "credentials")); f != "" {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles([]string{f}))
	}
	if f := firstSet(e.Expand(e.Var("AWS_CONFIG_FILE")), e.HomeFile(".aws", "config")); f != "" {
		opts = append(opts, awsconfig.WithSharedConfigFiles([]string{f}))
	}
	if strings.EqualFold(e.Var("AWS_EC2_METADATA_DISABLED"), "true") {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	return opts
}

// Retrieve returns the chain's current credentials.
func (s *sdkCredentials) Retrieve(ctx context.Context) (s3.Credentials, error) {
	s.once.Do(func() {
		cfg, err := awsconfig.LoadDefaultConfig(context.WithoutCancel(ctx), s.loadOptions()...)
		s.prov, s.err = cfg.Credentials, err
	})
	if s.err != nil {
		return s3.Credentials{}, &storage.CredentialsError{Store: storage.S3, Reason: "the AWS configuration: " + s.err.Error()}
	}
	if s.prov == nil {
		return s3.Credentials{}, &storage.CredentialsError{Store: storage.S3, Reason: "no AWS credentials found: " + awsFix}
	}
	c, err := s.prov.Retrieve(ctx)
	if err != nil {
		return s3.Credentials{}, &storage.CredentialsError{Store: storage.S3, Reason: fmt.Sprintf("no usable AWS credentials (%v): %s", err, awsFix)}
	}
	return s3.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken,
		Source: "the AWS SDK's chain (" + c.Source + ")"}, nil
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
