// One Ardent API key with the Admin role, declared through the generated Go SDK (scripts/gen-sdk).
package main

import (
	"ardent-provider/sdk/go/ardent"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		key, err := ardent.NewApiKey(ctx, "Production-Test", &ardent.ApiKeyArgs{
			Role: pulumi.String("Admin"),
		})
		if err != nil {
			return err
		}
		// The SDK marks Token as a secret output, so the stack stores and shows it encrypted as it is.
		ctx.Export("productionTestToken", key.Token)
		ctx.Export("productionTestKeyId", key.KeyId)
		return nil
	})
}
