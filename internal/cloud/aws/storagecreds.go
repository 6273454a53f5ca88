package aws

import (
	"context"
	"fmt"
	"sync"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/stix-run/stix/internal/storage"
	"github.com/stix-run/stix/internal/storage/s3"
)

// StorageCredentials returns the AWS SDK's default credential chain (environment, shared files, SSO, assumed
// roles, credential_process, container and instance roles) for stix's own S3 client, which reads access keys
// only: the CLI, which links the SDK already, hands it to stores.Open; the node agent, which links no SDK, does
// not. The chain is resolved on first use, and refreshed by the SDK's cache as credentials expire.
func StorageCredentials() s3.CredentialsProvider { return &sdkCredentials{} }

type sdkCredentials struct {
	once sync.Once
	prov awssdk.CredentialsProvider
	err  error
}

// Retrieve returns the chain's current credentials.
func (s *sdkCredentials) Retrieve(ctx context.Context) (s3.Credentials, error) {
	s.once.Do(func() {
		cfg, err := awsconfig.LoadDefaultConfig(context.WithoutCancel(ctx))
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
