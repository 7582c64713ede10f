// Ardent API keys declared through the Go SDK (module github.com/tryardent/ardent-provider/sdk): the seed's key
// with the Admin role and, when the stack's configuration asks for them, a key adopted from the console and a key
// in a partner org.
package main

import (
	"github.com/tryardent/ardent-provider/sdk/go/ardent"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		conf := config.New(ctx, "")

		seed := &ardent.ApiKeyArgs{Role: pulumi.String("Admin")}
		// Optional: without it the key never expires.
		if days, err := conf.TryInt("expiresInDays"); err == nil {
			seed.ExpiresInDays = pulumi.Int(days)
		}
		key, err := ardent.NewApiKey(ctx, "Production-Test", seed)
		if err != nil {
			return err
		}
		// The SDK marks Token as a secret output, so the stack stores and shows it encrypted as it is.
		ctx.Export("productionTestToken", key.Token)
		ctx.Export("productionTestKeyId", key.KeyId)

		// A key made in the console, brought in with `pulumi import ardent:index:ApiKey handMade <key id>` and
		// then declared as it is. Its token cannot be read back, so the provider keeps the key without one.
		if adoptKeyID := conf.Get("adoptKeyId"); adoptKeyID != "" {
			_, err := ardent.NewApiKey(ctx, "handMade", &ardent.ApiKeyArgs{
				Name:           pulumi.String("hand-made"),
				Role:           pulumi.String("Member"),
				Scopes:         pulumi.StringArray{pulumi.String("projects.read")},
				ExpiresInDays:  pulumi.Int(60),
				AdoptKeyId:     pulumi.String(adoptKeyID),
				OnMissingToken: pulumi.String("keep"),
			})
			if err != nil {
				return err
			}
		}

		// A key in another organization, through an explicit provider holding that organization's token.
		if partnerOrgID := conf.Get("partnerOrgId"); partnerOrgID != "" {
			partnerArgs := &ardent.ProviderArgs{
				OrgId: pulumi.String(partnerOrgID),
				Token: conf.RequireSecret("partnerToken"),
			}
			if apiURL := conf.Get("partnerApiUrl"); apiURL != "" {
				partnerArgs.ApiUrl = pulumi.String(apiURL)
			}
			partner, err := ardent.NewProvider(ctx, "partner", partnerArgs)
			if err != nil {
				return err
			}
			partnerKey, err := ardent.NewApiKey(ctx, "partnerViewer", &ardent.ApiKeyArgs{Role: pulumi.String("Viewer")},
				pulumi.Provider(partner))
			if err != nil {
				return err
			}
			ctx.Export("partnerKeyOrgId", partnerKey.OrgId)
			ctx.Export("partnerKeyToken", partnerKey.Token)
		}
		return nil
	})
}
