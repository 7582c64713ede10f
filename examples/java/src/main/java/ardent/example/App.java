// Ardent API keys declared through the Java SDK (io.github.tryardent:pulumi-ardent): the seed's key with the Admin role
// and, when the stack's configuration asks for them, a key adopted from the console and a key in a partner org.
package ardent.example;

import com.pulumi.Context;
import com.pulumi.Pulumi;
import com.pulumi.ardent.ApiKey;
import com.pulumi.ardent.ApiKeyArgs;
import com.pulumi.ardent.Provider;
import com.pulumi.ardent.ProviderArgs;
import com.pulumi.resources.CustomResourceOptions;

public class App {
    public static void main(String[] args) {
        Pulumi.run(App::stack);
    }

    private static void stack(Context ctx) {
        var config = ctx.config();

        var seedArgs = ApiKeyArgs.builder().role("Admin");
        // Optional: without it the key never expires.
        config.getInteger("expiresInDays").ifPresent(seedArgs::expiresInDays);
        var key = new ApiKey("Production-Test", seedArgs.build());
        // The SDK marks token as a secret output, so the stack stores and shows it encrypted as it is.
        ctx.export("productionTestToken", key.token());
        ctx.export("productionTestKeyId", key.keyId());

        // A key made in the console, brought in with `pulumi import ardent:index:ApiKey handMade <key id>` and
        // then declared as it is. Its token cannot be read back, so the provider keeps the key without one.
        config.get("adoptKeyId").ifPresent(adoptKeyId -> new ApiKey("handMade", ApiKeyArgs.builder()
                .name("hand-made")
                .role("Member")
                .scopes("projects.read")
                .expiresInDays(60)
                .adoptKeyId(adoptKeyId)
                .onMissingToken("keep")
                .build()));

        // A key in another organization, through an explicit provider holding that organization's token.
        config.get("partnerOrgId").ifPresent(partnerOrgId -> {
            var partnerArgs = ProviderArgs.builder()
                    .orgId(partnerOrgId)
                    .token(config.requireSecret("partnerToken"));
            config.get("partnerApiUrl").ifPresent(partnerArgs::apiUrl);
            var partner = new Provider("partner", partnerArgs.build());
            var partnerKey = new ApiKey("partnerViewer", ApiKeyArgs.builder().role("Viewer").build(),
                    CustomResourceOptions.builder().provider(partner).build());
            ctx.export("partnerKeyOrgId", partnerKey.orgId());
            ctx.export("partnerKeyToken", partnerKey.token());
        });
    }
}
