package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials are AWS credentials for SigV4. SessionToken is set only for
// temporary credentials (STS, instance roles) and is sent as
// X-Amz-Security-Token.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// signingService is the SigV4 service name of bedrock-runtime endpoints.
const signingService = "bedrock"

var signer = v4.NewSigner()

// Sign signs req, an upstream Converse or ConverseStream request whose
// body is body, with AWS Signature Version 4 for service "bedrock" in
// region at time now, using the AWS SDK's signer. It sets Authorization,
// X-Amz-Date, X-Amz-Content-Sha256 (Bedrock does not require it, but it
// lets a proxy or log check the body) and, with a session token,
// X-Amz-Security-Token. The signature covers the method, the escaped path
// (model ids stay URL-encoded as %3A: set req.URL.RawPath), the query, the
// host and the body's SHA-256. req.Body is not read. Empty AccessKeyID,
// SecretAccessKey or region is an error; secrets never appear in it.
func Sign(req *http.Request, body []byte, creds Credentials, region string, now time.Time) error {
	switch {
	case creds.AccessKeyID == "" || creds.SecretAccessKey == "":
		return errors.New("bedrock: sign request: missing AWS access key id or secret access key")
	case region == "":
		return errors.New("bedrock: sign request: missing AWS region")
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	err := signer.SignHTTP(context.Background(), aws.Credentials{
		AccessKeyID:     creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey,
		SessionToken:    creds.SessionToken,
	}, req, hash, signingService, region, now)
	if err != nil {
		return fmt.Errorf("bedrock: sign request: %w", err)
	}
	return nil
}
